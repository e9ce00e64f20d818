//! The documents page: upload (several files, drag and drop, a progress bar per file), the
//! list with preview, download and delete, and the lab values with a small chart per test
//! that appears in more than one document.
//!
//! Uploads go to `POST /api/documents` with `XMLHttpRequest`, one request per file, because
//! `fetch` reports no upload progress; that code runs only in the browser (`hydrate`).

use super::api::{DeleteDocument, lab_results, list_documents};
use super::strings::{DOCUMENTS, DocumentsText};
use super::types::{DocumentSummary, Flag, LabResult, TextStatus, normalise_test_name};
use crate::error::AppError;
use crate::i18n::{use_locale, use_strings};
use crate::layout::SignedIn;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DocumentsPage() -> impl IntoView {
    let t = use_strings(&DOCUMENTS);
    view! {
        <Title text=move || t().title />
        <section class="form-page wide">
            <h1>{move || t().title}</h1>
            <p class="lead">{move || t().lead}</p>
            <SignedIn>
                <DocumentsBody />
            </SignedIn>
        </section>
    }
}

/// Where one file's upload stands (uploads start only in the browser).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum UploadState {
    Sending,
    Done,
    Failed(AppError),
}

/// One file being uploaded, as the page shows it. Its signals are reference-counted rather
/// than owned by a component: the list that shows them is rebuilt after every upload.
#[derive(Debug, Clone)]
struct UploadItem {
    name: String,
    progress: ArcRwSignal<f64>,
    state: ArcRwSignal<UploadState>,
}

/// `12.3 MB`, `450 KB`.
fn size_text(bytes: i64) -> String {
    let bytes = bytes.max(0) as f64;
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MB", bytes / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KB", (bytes / 1024.0).max(1.0))
    }
}

/// `YYYY-MM-DD` (UTC) for a timestamp.
fn day(ms: i64) -> String {
    let (y, m, d) = crate::accounts::validate::civil_date(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn status_text(t: &'static DocumentsText, status: TextStatus) -> &'static str {
    match status {
        TextStatus::Extracted => t.text_extracted,
        TextStatus::NoText => t.text_none,
        TextStatus::Failed => t.text_failed,
        TextStatus::NotApplicable => t.text_image,
    }
}

fn flag_text(t: &'static DocumentsText, flag: Option<Flag>) -> &'static str {
    match flag {
        Some(Flag::High) => t.flag_high,
        Some(Flag::Low) => t.flag_low,
        Some(Flag::Normal) => t.flag_normal,
        None => t.flag_unknown,
    }
}

fn range_text(low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("{} – {}", number(l), number(h)),
        (None, Some(h)) => format!("< {}", number(h)),
        (Some(l), None) => format!("> {}", number(l)),
        (None, None) => "–".to_owned(),
    }
}

#[component]
fn DocumentsBody() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let list = Resource::new(move || refresh.get(), |_| list_documents());
    let labs = Resource::new(move || refresh.get(), |_| lab_results());
    let t = use_strings(&DOCUMENTS);
    let locale = use_locale();
    // Kept here, above the list that reloads after each upload, so progress survives reloads.
    let uploads: RwSignal<Vec<UploadItem>> = RwSignal::new(Vec::new());
    let show_error = move |err: AppError| {
        view! {
            <p class="form-error" role="alert">
                {move || crate::accounts::strings::error_text(locale.get(), &err)}
            </p>
        }
    };
    view! {
        <Suspense fallback=move || view! { <p role="status">{move || t().loading}</p> }>
            {move || {
                list.get()
                    .map(|result| match result {
                        Ok(list) => {
                            view! {
                                <Uploader max_bytes=list.max_upload_bytes uploads refresh />
                                <DocumentTable documents=list.documents refresh />
                            }
                                .into_any()
                        }
                        Err(err) => show_error(err).into_any(),
                    })
            }}
            {move || {
                labs.get()
                    .map(|result| match result {
                        Ok(labs) => view! { <LabTable labs /> }.into_any(),
                        Err(err) => show_error(err).into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
fn Uploader(
    max_bytes: u64,
    uploads: RwSignal<Vec<UploadItem>>,
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let t = use_strings(&DOCUMENTS);
    let locale = use_locale();
    let dragging = RwSignal::new(false);
    let limit = size_text(i64::try_from(max_bytes).unwrap_or(i64::MAX));
    #[cfg(feature = "hydrate")]
    let start = move |files: web_sys::FileList| {
        browser::start_uploads(files, max_bytes, uploads, refresh);
    };
    #[cfg(not(feature = "hydrate"))]
    let _ = (max_bytes, refresh);
    let item_view = move |item: UploadItem| {
        let state = item.state;
        let progress = item.progress;
        let shown = progress.clone();
        view! {
            <li class="upload-item" data-testid="upload-item">
                <span class="upload-name">{item.name.clone()}</span>
                <progress
                    max="1"
                    value=move || progress.get()
                    aria-label=move || format!("{}: {}", t().progress_label, item.name)
                ></progress>
                <span class="upload-state" role="status" data-testid="upload-state">
                    {move || match state.get() {
                        UploadState::Sending => {
                            format!("{} {:.0} %", t().uploading, shown.get() * 100.0)
                        }
                        UploadState::Done => t().uploaded.to_owned(),
                        UploadState::Failed(err) => {
                            crate::accounts::strings::error_text(locale.get(), &err)
                        }
                    }}
                </span>
            </li>
        }
    };
    view! {
        <section class="card" aria-labelledby="upload-title">
            <h2 id="upload-title">{move || t().upload_title}</h2>
            <div
                class="drop-zone"
                class:dragging=move || dragging.get()
                data-testid="drop-zone"
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    dragging.set(true);
                }
                on:dragleave=move |_| dragging.set(false)
                on:drop=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    dragging.set(false);
                    #[cfg(feature = "hydrate")]
                    if let Some(files) = ev.data_transfer().and_then(|d| d.files()) {
                        start(files);
                    }
                }
            >
                <input
                    id="document-files"
                    class="visually-hidden"
                    type="file"
                    multiple=true
                    accept="application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png"
                    data-testid="document-files"
                    on:change=move |ev| {
                        #[cfg(feature = "hydrate")]
                        {
                            let input = event_target::<web_sys::HtmlInputElement>(&ev);
                            if let Some(files) = input.files() {
                                start(files);
                            }
                            input.set_value("");
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }
                />
                <label class="button" for="document-files">{move || t().choose_files}</label>
                <p class="hint">{move || t().drop_hint}</p>
                <p class="hint">{move || t().limit_prefix} " " {limit}</p>
                <noscript>
                    <p>{move || t().needs_javascript}</p>
                </noscript>
            </div>
            <ul class="upload-list">
                {move || uploads.get().into_iter().map(item_view).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn DocumentTable(documents: Vec<DocumentSummary>, refresh: RwSignal<u32>) -> impl IntoView {
    let t = use_strings(&DOCUMENTS);
    let locale = use_locale();
    let preview: RwSignal<Option<DocumentSummary>> = RwSignal::new(None);
    let confirming: RwSignal<Option<String>> = RwSignal::new(None);
    let delete = ServerAction::<DeleteDocument>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            preview.set(None);
            refresh.update(|n| *n += 1);
        }
    });
    let row = move |doc: DocumentSummary| {
        let url = format!("/api/documents/{}", doc.id);
        let download = format!("{url}?download=1");
        let (id, id_for_confirm) = (doc.id.clone(), doc.id.clone());
        let shown = doc.clone();
        let name = doc.filename.clone();
        let status = doc.text_status;
        view! {
            <tr data-testid="document-row">
                <td class="document-name">{doc.filename.clone()}</td>
                <td>{day(doc.created_at)}</td>
                <td>{size_text(doc.size_bytes)}</td>
                <td>
                    {doc.lab_count} <span class="hint">" · " {move || status_text(t(), status)}</span>
                </td>
                <td class="actions">
                    <button type="button" class="link-button" on:click=move |_| preview.set(Some(shown.clone()))>
                        {move || t().view}
                        <span class="visually-hidden">" " {name.clone()}</span>
                    </button>
                    <a href=download download="">{move || t().download}</a>
                    {move || {
                        if confirming.get().as_deref() == Some(id.as_str()) {
                            let id = id.clone();
                            view! {
                                <button
                                    type="button"
                                    class="button danger"
                                    data-testid="confirm-delete"
                                    disabled=move || delete.pending().get()
                                    on:click=move |_| {
                                        delete.dispatch(DeleteDocument { id: id.clone() });
                                    }
                                >
                                    {move || t().delete_confirm}
                                </button>
                                <button type="button" class="link-button" on:click=move |_| confirming.set(None)>
                                    {move || t().keep}
                                </button>
                            }
                                .into_any()
                        } else {
                            let id = id_for_confirm.clone();
                            view! {
                                <button
                                    type="button"
                                    class="link-button"
                                    data-testid="delete-document"
                                    on:click=move |_| confirming.set(Some(id.clone()))
                                >
                                    {move || t().delete}
                                </button>
                            }
                                .into_any()
                        }
                    }}
                </td>
            </tr>
        }
    };
    let empty = documents.is_empty();
    view! {
        <section class="card" aria-labelledby="documents-title">
            <h2 id="documents-title">{move || t().list_title}</h2>
            <p class="form-error" role="alert">
                {move || match delete.value().get() {
                    Some(Err(err)) => Some(crate::accounts::strings::error_text(locale.get(), &err)),
                    _ => None,
                }}
            </p>
            {if empty {
                view! { <p data-testid="documents-empty">{move || t().empty}</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll" tabindex="0" role="region" aria-labelledby="documents-title">
                        <table class="data-table">
                            <thead>
                                <tr>
                                    <th scope="col">{move || t().col_name}</th>
                                    <th scope="col">{move || t().col_added}</th>
                                    <th scope="col">{move || t().col_size}</th>
                                    <th scope="col">{move || t().col_values}</th>
                                    <th scope="col">{move || t().col_actions}</th>
                                </tr>
                            </thead>
                            <tbody>{documents.into_iter().map(row).collect_view()}</tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
            {move || preview.get().map(|doc| view! { <Preview doc preview /> })}
        </section>
    }
    .into_any()
}

#[component]
fn Preview(doc: DocumentSummary, preview: RwSignal<Option<DocumentSummary>>) -> impl IntoView {
    let t = use_strings(&DOCUMENTS);
    let url = format!("/api/documents/{}", doc.id);
    let name = doc.filename.clone();
    let body = if doc.is_image() {
        view! { <img class="document-preview" src=url alt=name.clone() /> }.into_any()
    } else {
        view! { <iframe class="document-preview" src=url title=name.clone()></iframe> }.into_any()
    };
    view! {
        <div class="preview" data-testid="document-preview">
            <h3>{move || t().preview_title} ": " {name.clone()}</h3>
            {body}
            <button type="button" class="link-button" on:click=move |_| preview.set(None)>
                {move || t().hide}
            </button>
        </div>
    }
    .into_any()
}

/// The values of one test across documents, oldest first, for its chart.
#[derive(Debug, Clone)]
struct Series {
    name: String,
    unit: String,
    low: Option<f64>,
    high: Option<f64>,
    points: Vec<(i64, f64)>,
}

/// Tests found in more than one document, each with its values over time.
fn series(labs: &[LabResult]) -> Vec<Series> {
    let mut out: Vec<(String, Series, Vec<String>)> = Vec::new();
    for lab in labs {
        let key = normalise_test_name(&lab.test_name);
        match out
            .iter_mut()
            .find(|(k, s, _)| *k == key && s.unit == lab.unit)
        {
            Some((_, s, documents)) => {
                s.points.push((lab.document_at, lab.value));
                if !documents.contains(&lab.document_id) {
                    documents.push(lab.document_id.clone());
                }
                s.low = lab.ref_low.or(s.low);
                s.high = lab.ref_high.or(s.high);
            }
            None => out.push((
                key,
                Series {
                    name: lab.test_name.clone(),
                    unit: lab.unit.clone(),
                    low: lab.ref_low,
                    high: lab.ref_high,
                    points: vec![(lab.document_at, lab.value)],
                },
                vec![lab.document_id.clone()],
            )),
        }
    }
    out.into_iter()
        .filter(|(_, _, documents)| documents.len() > 1)
        .map(|(_, s, _)| s)
        .collect()
}

const CHART_W: f64 = 320.0;
const CHART_H: f64 = 120.0;
const PAD: f64 = 14.0;

/// A small line chart of one series, drawn as SVG; the shaded band is the reference range.
fn chart(s: &Series, label: String) -> impl IntoView + use<> {
    let values = s.points.iter().map(|p| p.1);
    let mut lo = values.clone().fold(f64::INFINITY, f64::min);
    let mut hi = values.fold(f64::NEG_INFINITY, f64::max);
    for bound in [s.low, s.high].into_iter().flatten() {
        lo = lo.min(bound);
        hi = hi.max(bound);
    }
    if (hi - lo).abs() < f64::EPSILON {
        lo -= 1.0;
        hi += 1.0;
    }
    let (first, last) = (
        s.points.first().map_or(0, |p| p.0),
        s.points.last().map_or(0, |p| p.0),
    );
    let n = s.points.len();
    let x = |i: usize, at: i64| {
        let share = if last > first {
            (at - first) as f64 / (last - first) as f64
        } else {
            i as f64 / (n.max(2) - 1) as f64
        };
        PAD + share * (CHART_W - 2.0 * PAD)
    };
    let y = |v: f64| CHART_H - PAD - (v - lo) / (hi - lo) * (CHART_H - 2.0 * PAD);
    let line: String = s
        .points
        .iter()
        .enumerate()
        .map(|(i, &(at, v))| format!("{:.1},{:.1}", x(i, at), y(v)))
        .collect::<Vec<_>>()
        .join(" ");
    let band = match (s.low, s.high) {
        (Some(l), Some(h)) => Some((y(h), (y(l) - y(h)).max(1.0))),
        _ => None,
    };
    let dots: Vec<_> = s
        .points
        .iter()
        .enumerate()
        .map(|(i, &(at, v))| {
            let tip = format!("{} {} ({})", number(v), s.unit, day(at));
            view! {
                <circle cx=format!("{:.1}", x(i, at)) cy=format!("{:.1}", y(v)) r="3.5">
                    <title>{tip}</title>
                </circle>
            }
        })
        .collect();
    let summary = s
        .points
        .iter()
        .map(|&(at, v)| format!("{}: {} {}", day(at), number(v), s.unit))
        .collect::<Vec<_>>()
        .join("; ");
    view! {
        <figure class="lab-chart" data-testid="lab-chart">
            <figcaption>{label.clone()}</figcaption>
            <svg
                viewBox=format!("0 0 {CHART_W} {CHART_H}")
                role="img"
                aria-label=format!("{label}. {summary}")
            >
                {band.map(|(top, height)| view! {
                    <rect class="lab-band" x="0" y=format!("{top:.1}") width=CHART_W.to_string() height=format!("{height:.1}") />
                })}
                <polyline class="lab-line" points=line fill="none" />
                {dots}
            </svg>
        </figure>
    }
}

#[component]
pub fn LabTable(labs: Vec<LabResult>) -> impl IntoView {
    let t = use_strings(&DOCUMENTS);
    let trends = series(&labs);
    let row = move |lab: LabResult| {
        let flag = lab.flag;
        let class = match flag {
            Some(Flag::High | Flag::Low) => "flag flag-out",
            _ => "flag",
        };
        view! {
            <tr data-testid="lab-row" data-flag=flag.map_or("none", Flag::as_str)>
                <th scope="row">{lab.test_name.clone()}</th>
                <td>{number(lab.value)} " " {lab.unit.clone()}</td>
                <td>{range_text(lab.ref_low, lab.ref_high)}</td>
                <td class=class>
                    <strong>{move || flag_text(t(), flag)}</strong>
                </td>
                <td>{day(lab.document_at)}</td>
            </tr>
        }
    };
    let empty = labs.is_empty();
    view! {
        <section class="card" aria-labelledby="labs-title">
            <h2 id="labs-title">{move || t().labs_title}</h2>
            {if empty {
                view! { <p data-testid="labs-empty">{move || t().labs_empty}</p> }.into_any()
            } else {
                view! {
                    <p class="hint">{move || t().labs_note}</p>
                    <div class="table-scroll" tabindex="0" role="region" aria-labelledby="labs-title">
                        <table class="data-table">
                            <thead>
                                <tr>
                                    <th scope="col">{move || t().col_test}</th>
                                    <th scope="col">{move || t().col_value}</th>
                                    <th scope="col">{move || t().col_range}</th>
                                    <th scope="col">{move || t().col_flag}</th>
                                    <th scope="col">{move || t().col_date}</th>
                                </tr>
                            </thead>
                            <tbody>{labs.into_iter().map(row).collect_view()}</tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
            {(!trends.is_empty()).then(|| view! {
                <h3>{move || t().trends_title}</h3>
                <div class="lab-charts">
                    {trends
                        .iter()
                        .map(|s| chart(s, format!("{} ({}), {}", s.name, s.unit, t().chart_label)))
                        .collect_view()}
                </div>
            })}
        </section>
    }
    .into_any()
}

/// The browser half of uploading: one `XMLHttpRequest` per file, with its progress.
#[cfg(feature = "hydrate")]
mod browser {
    use super::{UploadItem, UploadState};
    use crate::documents::types::{FILENAME_HEADER, UPLOAD_PATH, encode_filename};
    use crate::error::AppError;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    pub fn start_uploads(
        files: web_sys::FileList,
        max_bytes: u64,
        uploads: RwSignal<Vec<UploadItem>>,
        refresh: RwSignal<u32>,
    ) {
        for index in 0..files.length() {
            let Some(file) = files.item(index) else {
                continue;
            };
            let item = UploadItem {
                name: file.name(),
                progress: ArcRwSignal::new(0.0),
                state: ArcRwSignal::new(UploadState::Sending),
            };
            uploads.update(|list| list.push(item.clone()));
            if file.size() > max_bytes as f64 {
                let too_large = AppError::invalid("file", "documents.too_large");
                item.state.set(UploadState::Failed(too_large));
                continue;
            }
            send(&file, item, refresh);
        }
    }

    fn failed(state: &ArcRwSignal<UploadState>) {
        state.set(UploadState::Failed(AppError::Transport));
    }

    /// Sends one file. The two callbacks live as long as the page (they are small, and a
    /// callback cannot free itself while it runs); they only touch reference-counted signals
    /// and `try_update` the page's, so they stay harmless after the page is left.
    fn send(file: &web_sys::File, item: UploadItem, refresh: RwSignal<u32>) {
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
            return failed(&item.state);
        };
        if xhr.open("POST", UPLOAD_PATH).is_err()
            || xhr
                .set_request_header(FILENAME_HEADER, &encode_filename(&file.name()))
                .is_err()
        {
            return failed(&item.state);
        }
        if let Ok(upload) = xhr.upload() {
            let progress = item.progress.clone();
            let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
                move |ev: web_sys::ProgressEvent| {
                    if ev.length_computable() && ev.total() > 0.0 {
                        progress.set(ev.loaded() / ev.total());
                    }
                },
            );
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            on_progress.forget();
        }
        let (state, progress, answered) = (item.state.clone(), item.progress, xhr.clone());
        let on_end = Closure::<dyn FnMut()>::new(move || {
            let status = answered.status().unwrap_or(0);
            if status == 201 {
                progress.set(1.0);
                state.set(UploadState::Done);
                refresh.try_update(|n| *n += 1);
                return;
            }
            let err = answered
                .response_text()
                .ok()
                .flatten()
                .and_then(|text| serde_json::from_str::<AppError>(&text).ok())
                .unwrap_or(if status == 0 {
                    AppError::Transport
                } else {
                    AppError::Internal { request_id: None }
                });
            state.set(UploadState::Failed(err));
        });
        xhr.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
        on_end.forget();
        let blob: &web_sys::Blob = file;
        if xhr.send_with_opt_blob(Some(blob)).is_err() {
            failed(&item.state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(document: &str, at: i64, name: &str, value: f64, unit: &str) -> LabResult {
        LabResult {
            id: format!("{document}-{name}"),
            document_id: document.into(),
            document_at: at,
            test_name: name.into(),
            value,
            unit: unit.into(),
            ref_low: Some(12.0),
            ref_high: Some(15.5),
            flag: None,
            position: 0,
        }
    }

    #[test]
    fn a_test_is_charted_only_when_it_appears_in_more_than_one_document() {
        let labs = [
            lab("a", 1, "Haemoglobin", 10.2, "g/dL"),
            lab("a", 1, "WBC", 13.5, "x10^9/L"),
            lab("b", 2, "HAEMOGLOBIN:", 11.8, "g/dL"),
            lab("b", 2, "Glucose", 5.0, "mmol/L"),
            lab("c", 3, "Glucose", 90.0, "mg/dL"),
        ];
        let charted = series(&labs);
        assert_eq!(charted.len(), 1, "{charted:?}");
        assert_eq!(charted[0].name, "Haemoglobin");
        assert_eq!(charted[0].points, vec![(1, 10.2), (2, 11.8)]);
    }

    #[test]
    fn numbers_and_sizes_read_naturally() {
        assert_eq!(number(10.20), "10.2");
        assert_eq!(number(140.0), "140");
        assert_eq!(size_text(2 * 1024 * 1024), "2.0 MB");
        assert_eq!(size_text(10), "1 KB");
        assert_eq!(range_text(None, Some(5.0)), "< 5");
    }
}
