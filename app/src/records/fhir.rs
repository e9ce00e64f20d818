//! A patient's whole record as a FHIR R4 `Bundle` (type `collection`), built from plain data
//! so that it can be tested without a database.
//!
//! Every resource gets a `fullUrl` under `{base}/fhir/{Type}/{id}` and refers to the others by
//! relative references (`Patient/{id}`), which FHIR resolves against that base. What the
//! patient typed (conditions, allergies, medications) is exported as `CodeableConcept.text`:
//! Tabibu does not guess codes for free text, and a wrong code is worse than none.
//!
//! This module only shapes data; it must never log anything it is given.

use serde_json::{Value, json};

/// Everything exported for one patient. Times are milliseconds since the epoch.
#[derive(Debug, Clone, Default)]
pub struct PatientRecord {
    pub patient: PatientInfo,
    pub conditions: Vec<String>,
    pub allergies: Vec<String>,
    pub medications: Vec<String>,
    /// When the health profile was last saved (the lists above are as of then).
    pub profile_updated_ms: Option<i64>,
    pub conversations: Vec<ConversationInfo>,
    pub documents: Vec<DocumentInfo>,
    pub lab_values: Vec<LabValue>,
    pub consultations: Vec<ConsultationInfo>,
}

#[derive(Debug, Clone, Default)]
pub struct PatientInfo {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// `female`, `male` or `other`.
    pub sex: Option<String>,
    /// E.164.
    pub phone: Option<String>,
}

/// A symptom-assistant conversation: exported as an `Encounter` with the assistant's
/// messages as `Communication`s between the patient and the assistant (a `Device`).
#[derive(Debug, Clone, Default)]
pub struct ConversationInfo {
    pub id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The latest triage level (`emergency`, `urgent`, `routine`, `self_care`).
    pub triage_level: Option<String>,
    pub messages: Vec<MessageInfo>,
}

#[derive(Debug, Clone, Default)]
pub struct MessageInfo {
    pub id: String,
    /// True when the patient wrote it; false for the assistant or the doctor.
    pub from_patient: bool,
    pub body: String,
    pub sent_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct DocumentInfo {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256_hex: String,
    pub created_ms: i64,
}

/// A lab value found in a document.
#[derive(Debug, Clone, Default)]
pub struct LabValue {
    pub id: String,
    pub document_id: String,
    pub test: String,
    pub value: f64,
    pub unit: String,
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// `high`, `low` or `normal`; `None` when no range was known.
    pub flag: Option<String>,
    pub observed_ms: i64,
}

/// A consultation with a doctor: an `Encounter`, its thread as `Communication`s.
#[derive(Debug, Clone, Default)]
pub struct ConsultationInfo {
    pub id: String,
    /// `waiting`, `claimed`, `replied` or `closed`.
    pub status: String,
    pub reason: String,
    pub triage_level: Option<String>,
    pub created_ms: i64,
    pub closed_ms: Option<i64>,
    pub doctor: Option<DoctorInfo>,
    /// Advice the doctor gave when closing the case.
    pub outcome: Option<String>,
    pub messages: Vec<MessageInfo>,
}

#[derive(Debug, Clone, Default)]
pub struct DoctorInfo {
    pub id: String,
    pub name: String,
}

/// The id of the `Device` resource that stands for the symptom assistant.
pub const ASSISTANT_DEVICE_ID: &str = "tabibu-assistant";

/// `YYYY-MM-DDThh:mm:ss.sssZ` for milliseconds since the epoch (a FHIR `instant`).
pub fn instant(ms: i64) -> String {
    let (y, m, d) = crate::accounts::validate::civil_date(ms);
    let in_day = ms.rem_euclid(86_400_000);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// A resource id FHIR accepts (`[A-Za-z0-9\-\.]{1,64}`), derived from one of ours.
fn fhir_id(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "unknown".into()
    } else {
        cleaned
    }
}

/// The RFC 6920 name of content with this SHA-256 (`ni:///sha-256;` and the digest in
/// unpadded base64url). R4's `Attachment.hash` must be SHA-1, which Tabibu does not keep, so
/// the SHA-256 travels as the document's identifier instead.
fn ni_sha256(hex_digest: &str) -> String {
    use base64::Engine;
    let digest = hex::decode(hex_digest).unwrap_or_default();
    format!(
        "ni:///sha-256;{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

fn text_concept(text: &str) -> Value {
    json!({ "text": text })
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": display }] })
}

/// HL7 v3 ActPriority for a triage level.
fn priority(level: &str) -> Option<Value> {
    let (code, display) = match level {
        "emergency" => ("EM", "emergency"),
        "urgent" => ("UR", "urgent"),
        "routine" | "self_care" => ("R", "routine"),
        _ => return None,
    };
    Some(coding(
        "http://terminology.hl7.org/CodeSystem/v3-ActPriority",
        code,
        display,
    ))
}

struct Builder {
    base: String,
    entries: Vec<Value>,
}

impl Builder {
    fn push(&mut self, resource: Value) {
        let kind = resource["resourceType"].as_str().unwrap_or_default();
        let id = resource["id"].as_str().unwrap_or_default();
        let full_url = format!("{}/fhir/{kind}/{id}", self.base);
        self.entries
            .push(json!({ "fullUrl": full_url, "resource": resource }));
    }
}

/// The bundle for `record`, stamped `now_ms`; `base` is the public URL of this Tabibu.
pub fn bundle(record: &PatientRecord, base: &str, now_ms: i64) -> Value {
    let mut b = Builder {
        base: base.trim_end_matches('/').to_owned(),
        entries: Vec::new(),
    };
    let patient_id = fhir_id(&record.patient.id);
    let patient_ref = json!({ "reference": format!("Patient/{patient_id}") });
    b.push(patient(&record.patient, &patient_id));

    let recorded = record.profile_updated_ms.map(instant);
    for (i, text) in record.conditions.iter().enumerate() {
        let mut r = json!({
            "resourceType": "Condition",
            "id": format!("{patient_id}-condition-{}", i + 1),
            "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
            "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "unconfirmed", "Unconfirmed"),
            "category": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
            "code": text_concept(text),
            "subject": patient_ref,
            "asserter": patient_ref,
        });
        if let Some(at) = &recorded {
            r["recordedDate"] = json!(at);
        }
        b.push(r);
    }
    for (i, text) in record.allergies.iter().enumerate() {
        let mut r = json!({
            "resourceType": "AllergyIntolerance",
            "id": format!("{patient_id}-allergy-{}", i + 1),
            "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "unconfirmed", "Unconfirmed"),
            "code": text_concept(text),
            "patient": patient_ref,
            "asserter": patient_ref,
        });
        if let Some(at) = &recorded {
            r["recordedDate"] = json!(at);
        }
        b.push(r);
    }
    for (i, text) in record.medications.iter().enumerate() {
        let mut r = json!({
            "resourceType": "MedicationStatement",
            "id": format!("{patient_id}-medication-{}", i + 1),
            "status": "active",
            "medicationCodeableConcept": text_concept(text),
            "subject": patient_ref,
            "informationSource": patient_ref,
        });
        if let Some(at) = &recorded {
            r["dateAsserted"] = json!(at);
        }
        b.push(r);
    }

    if !record.conversations.is_empty() {
        b.push(json!({
            "resourceType": "Device",
            "id": ASSISTANT_DEVICE_ID,
            "status": "active",
            "deviceName": [{ "name": "Tabibu symptom assistant", "type": "user-friendly-name" }],
        }));
    }
    let device_ref = json!({ "reference": format!("Device/{ASSISTANT_DEVICE_ID}") });
    for c in &record.conversations {
        let id = fhir_id(&format!("conversation-{}", c.id));
        let mut encounter = json!({
            "resourceType": "Encounter",
            "id": id,
            "status": "finished",
            "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR", "display": "virtual" },
            "type": [text_concept("Symptom assistant conversation")],
            "subject": patient_ref,
            "period": { "start": instant(c.created_ms), "end": instant(c.updated_ms) },
        });
        if let Some(p) = c.triage_level.as_deref().and_then(priority) {
            encounter["priority"] = p;
        }
        b.push(encounter);
        let encounter_ref = json!({ "reference": format!("Encounter/{id}") });
        for m in &c.messages {
            let (sender, recipient) = if m.from_patient {
                (&patient_ref, &device_ref)
            } else {
                (&device_ref, &patient_ref)
            };
            b.push(communication(
                m,
                &patient_ref,
                &encounter_ref,
                sender,
                recipient,
            ));
        }
    }

    for d in &record.documents {
        b.push(json!({
            "resourceType": "DocumentReference",
            "id": fhir_id(&d.id),
            "identifier": [{ "system": "urn:ietf:rfc:3986", "value": ni_sha256(&d.sha256_hex) }],
            "status": "current",
            "subject": patient_ref,
            "date": instant(d.created_ms),
            "author": [patient_ref],
            "description": d.file_name,
            "content": [{
                "attachment": {
                    "contentType": d.content_type,
                    "title": d.file_name,
                    "size": d.size_bytes.max(0),
                    "creation": instant(d.created_ms),
                    "url": format!("{}/api/documents/{}?download=1", b.base, d.id),
                }
            }],
        }));
    }
    for v in &record.lab_values {
        let mut r = json!({
            "resourceType": "Observation",
            "id": fhir_id(&v.id),
            "status": "final",
            "category": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")],
            "code": text_concept(&v.test),
            "subject": patient_ref,
            "effectiveDateTime": instant(v.observed_ms),
            "valueQuantity": { "value": v.value, "unit": v.unit },
            "derivedFrom": [{ "reference": format!("DocumentReference/{}", fhir_id(&v.document_id)) }],
        });
        let mut range = serde_json::Map::new();
        if let Some(low) = v.low {
            range.insert("low".into(), json!({ "value": low, "unit": v.unit }));
        }
        if let Some(high) = v.high {
            range.insert("high".into(), json!({ "value": high, "unit": v.unit }));
        }
        if !range.is_empty() {
            r["referenceRange"] = json!([range]);
        }
        let interpretation = match v.flag.as_deref() {
            Some("high") => Some(("H", "High")),
            Some("low") => Some(("L", "Low")),
            Some("normal") => Some(("N", "Normal")),
            _ => None,
        };
        if let Some((code, display)) = interpretation {
            r["interpretation"] = json!([coding(
                "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                code,
                display
            )]);
        }
        b.push(r);
    }

    let mut doctors_seen = Vec::new();
    for c in &record.consultations {
        let id = fhir_id(&format!("consultation-{}", c.id));
        let status = match c.status.as_str() {
            "awaiting_payment" => "planned",
            "waiting" => "triaged",
            "closed" => "finished",
            _ => "in-progress",
        };
        let mut period = serde_json::Map::new();
        period.insert("start".into(), json!(instant(c.created_ms)));
        if let Some(end) = c.closed_ms {
            period.insert("end".into(), json!(instant(end)));
        }
        let mut encounter = json!({
            "resourceType": "Encounter",
            "id": id,
            "status": status,
            "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR", "display": "virtual" },
            "type": [text_concept("Remote consultation")],
            "subject": patient_ref,
            "period": period,
            "reasonCode": [text_concept(&c.reason)],
        });
        if let Some(p) = c.triage_level.as_deref().and_then(priority) {
            encounter["priority"] = p;
        }
        let doctor_ref = c.doctor.as_ref().map(|d| {
            let did = fhir_id(&d.id);
            if !doctors_seen.contains(&did) {
                doctors_seen.push(did.clone());
                b.push(json!({
                    "resourceType": "Practitioner",
                    "id": did,
                    "name": [{ "text": d.name }],
                }));
            }
            json!({ "reference": format!("Practitioner/{did}") })
        });
        if let Some(doctor) = &doctor_ref {
            encounter["participant"] = json!([{ "individual": doctor }]);
        }
        b.push(encounter);
        let encounter_ref = json!({ "reference": format!("Encounter/{id}") });
        for m in &c.messages {
            let doctor = doctor_ref.clone().unwrap_or(Value::Null);
            let (sender, recipient) = if m.from_patient {
                (&patient_ref, &doctor)
            } else {
                (&doctor, &patient_ref)
            };
            b.push(communication(
                m,
                &patient_ref,
                &encounter_ref,
                sender,
                recipient,
            ));
        }
        if let (Some(outcome), Some(doctor)) = (&c.outcome, &doctor_ref) {
            let closing = MessageInfo {
                id: format!("{}-outcome", c.id),
                from_patient: false,
                body: outcome.clone(),
                sent_ms: c.closed_ms.unwrap_or(c.created_ms),
            };
            b.push(communication(
                &closing,
                &patient_ref,
                &encounter_ref,
                doctor,
                &patient_ref,
            ));
        }
    }

    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": instant(now_ms),
        "entry": b.entries,
    })
}

fn patient(p: &PatientInfo, id: &str) -> Value {
    let mut telecom = Vec::new();
    if let Some(phone) = &p.phone {
        telecom.push(json!({ "system": "phone", "value": phone, "use": "mobile" }));
    }
    if !p.email.is_empty() {
        telecom.push(json!({ "system": "email", "value": p.email }));
    }
    let gender = match p.sex.as_deref() {
        Some("female") => "female",
        Some("male") => "male",
        Some("other") => "other",
        _ => "unknown",
    };
    let mut r = json!({
        "resourceType": "Patient",
        "id": id,
        "active": true,
        "name": [{ "text": p.name }],
        "gender": gender,
    });
    if !telecom.is_empty() {
        r["telecom"] = json!(telecom);
    }
    if let Some(dob) = &p.date_of_birth {
        r["birthDate"] = json!(dob);
    }
    r
}

fn communication(
    m: &MessageInfo,
    patient_ref: &Value,
    encounter_ref: &Value,
    sender: &Value,
    recipient: &Value,
) -> Value {
    let mut r = json!({
        "resourceType": "Communication",
        "id": fhir_id(&format!("message-{}", m.id)),
        "status": "completed",
        "subject": patient_ref,
        "encounter": encounter_ref,
        "sent": instant(m.sent_ms),
        "payload": [{ "contentString": m.body }],
    });
    if !sender.is_null() {
        r["sender"] = sender.clone();
    }
    if !recipient.is_null() {
        r["recipient"] = json!([recipient]);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with one of everything, used here and by the schema test in `server/tests`.
    pub fn sample() -> PatientRecord {
        let msg = |id: &str, from_patient: bool, body: &str| MessageInfo {
            id: id.into(),
            from_patient,
            body: body.into(),
            sent_ms: 1_764_000_000_000,
        };
        PatientRecord {
            patient: PatientInfo {
                id: "0b6c2f1e-4a5d-4c3b-9a8e-1f2d3c4b5a69".into(),
                name: "Amina Otieno".into(),
                email: "amina@example.com".into(),
                date_of_birth: Some("1990-04-12".into()),
                sex: Some("female".into()),
                phone: Some("+254712345678".into()),
            },
            conditions: vec!["asthma".into()],
            allergies: vec!["penicillin".into()],
            medications: vec!["salbutamol inhaler".into()],
            profile_updated_ms: Some(1_764_000_000_000),
            conversations: vec![ConversationInfo {
                id: "c1".into(),
                created_ms: 1_764_000_000_000,
                updated_ms: 1_764_000_060_000,
                triage_level: Some("urgent".into()),
                messages: vec![
                    msg("m1", true, "fever for 3 days"),
                    msg("m2", false, "see a doctor"),
                ],
            }],
            documents: vec![DocumentInfo {
                id: "d1".into(),
                file_name: "labs.pdf".into(),
                content_type: "application/pdf".into(),
                size_bytes: 1234,
                sha256_hex: "ab".repeat(32),
                created_ms: 1_764_000_000_000,
            }],
            lab_values: vec![LabValue {
                id: "l1".into(),
                document_id: "d1".into(),
                test: "Haemoglobin".into(),
                value: 9.8,
                unit: "g/dL".into(),
                low: Some(12.0),
                high: Some(16.0),
                flag: Some("low".into()),
                observed_ms: 1_764_000_000_000,
            }],
            consultations: vec![ConsultationInfo {
                id: "k1".into(),
                status: "closed".into(),
                reason: "Fever".into(),
                triage_level: Some("urgent".into()),
                created_ms: 1_764_000_000_000,
                closed_ms: Some(1_764_000_600_000),
                doctor: Some(DoctorInfo {
                    id: "doc1".into(),
                    name: "Dr Wanjiru".into(),
                }),
                outcome: Some("Rest and fluids".into()),
                messages: vec![
                    msg("k1m1", false, "How are you?"),
                    msg("k1m2", true, "Better"),
                ],
            }],
        }
    }

    #[test]
    fn instants_are_utc_with_milliseconds() {
        assert_eq!(instant(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(instant(1_764_000_061_234), "2025-11-24T16:01:01.234Z");
    }

    #[test]
    fn every_entry_has_a_full_url_and_resolvable_references() {
        let bundle = bundle(&sample(), "https://tabibu.example/", 1_764_000_000_000);
        let entries = bundle["entry"].as_array().unwrap();
        let urls: Vec<String> = entries
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            urls.iter()
                .all(|u| u.starts_with("https://tabibu.example/fhir/"))
        );
        let mut unique = urls.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), urls.len(), "fullUrls are unique");
        // Every reference points at an entry of the bundle (the download URL is an attachment
        // URL, not a reference).
        let text = bundle.to_string();
        for reference in text.split("\"reference\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let url = format!("https://tabibu.example/fhir/{target}");
            assert!(urls.contains(&url), "dangling reference {target}");
        }
        let kinds: Vec<&str> = entries
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        for kind in [
            "Patient",
            "Condition",
            "AllergyIntolerance",
            "MedicationStatement",
            "Observation",
            "DocumentReference",
            "Encounter",
            "Communication",
            "Practitioner",
            "Device",
        ] {
            assert!(kinds.contains(&kind), "{kind} missing");
        }
    }

    #[test]
    fn a_low_lab_value_carries_its_range_and_interpretation() {
        let bundle = bundle(&sample(), "https://t.example", 0);
        let obs = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .find(|r| r["resourceType"] == "Observation")
            .unwrap();
        assert_eq!(obs["valueQuantity"]["value"], 9.8);
        assert_eq!(obs["referenceRange"][0]["low"]["value"], 12.0);
        assert_eq!(obs["interpretation"][0]["coding"][0]["code"], "L");
    }

    #[test]
    fn a_documents_sha256_is_named_as_rfc_6920_says() {
        // RFC 6920 section 3's example: the SHA-256 of "Hello World!".
        let hex = "7f83b1657ff1fc53b92dc18148a1d65dfc2d4b1fa3d677284addd200126d9069";
        assert_eq!(
            ni_sha256(hex),
            "ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk"
        );
    }

    #[test]
    fn ids_are_made_fhir_safe() {
        assert_eq!(fhir_id("a_b c"), "a-b-c");
        assert_eq!(fhir_id(""), "unknown");
        assert_eq!(fhir_id(&"x".repeat(100)).len(), 64);
    }
}
