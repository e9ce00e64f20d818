//! What a file is, decided by its first bytes only: never by its name or the type a browser
//! declared. PDF (`%PDF-`), JPEG (`FF D8 FF`) and PNG (its 8-byte signature) are accepted;
//! images must also say, in their header, a size a phone camera could have made.
//!
//! Pure and bounded: it looks at most at [`MAX_HEAD`] bytes. It must never log what it reads.

/// The most bytes read before deciding (a JPEG's size comes after its metadata segments).
pub const MAX_HEAD: usize = 256 * 1024;
/// Largest side of an accepted image, in pixels.
pub const MAX_SIDE: u32 = 20_000;
/// Largest accepted image, in pixels (100 megapixels).
pub const MAX_PIXELS: u64 = 100_000_000;

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// An accepted kind of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Jpeg,
    Png,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
        }
    }
}

/// Why a file was refused; each has a message key the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a PDF, JPEG or PNG (whatever its name says).
    UnsupportedType,
    /// An image whose header is broken or says no size.
    UnreadableImage,
    /// An image larger than [`MAX_SIDE`] or [`MAX_PIXELS`].
    ImageTooLarge,
}

impl Refusal {
    pub fn message_key(self) -> &'static str {
        match self {
            Refusal::UnsupportedType => "documents.unsupported_type",
            Refusal::UnreadableImage => "documents.unreadable_image",
            Refusal::ImageTooLarge => "documents.image_too_large",
        }
    }
}

/// The verdict on the bytes seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    Accept(Kind),
    Refuse(Refusal),
    /// Not enough bytes yet to decide.
    NeedMore,
}

/// Judges `head`, the first bytes of the file; `complete` when the file has no more.
pub fn sniff(head: &[u8], complete: bool) -> Sniff {
    let verdict = judge(head);
    match verdict {
        Sniff::NeedMore if complete || head.len() >= MAX_HEAD => {
            if head.starts_with(&[0xFF, 0xD8, 0xFF]) || head.starts_with(PNG_SIGNATURE) {
                Sniff::Refuse(Refusal::UnreadableImage)
            } else {
                Sniff::Refuse(Refusal::UnsupportedType)
            }
        }
        other => other,
    }
}

fn judge(head: &[u8]) -> Sniff {
    if head.len() < 8 {
        let could_be = |sig: &[u8]| sig.starts_with(head) || head.starts_with(sig);
        return if could_be(b"%PDF-") || could_be(&[0xFF, 0xD8, 0xFF]) || could_be(PNG_SIGNATURE) {
            if head.starts_with(b"%PDF-") {
                Sniff::Accept(Kind::Pdf)
            } else {
                Sniff::NeedMore
            }
        } else {
            Sniff::Refuse(Refusal::UnsupportedType)
        };
    }
    if head.starts_with(b"%PDF-") {
        return Sniff::Accept(Kind::Pdf);
    }
    if head.starts_with(PNG_SIGNATURE) {
        return png(head);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return jpeg(head);
    }
    Sniff::Refuse(Refusal::UnsupportedType)
}

fn dimensions(width: u32, height: u32, kind: Kind) -> Sniff {
    if width == 0 || height == 0 {
        Sniff::Refuse(Refusal::UnreadableImage)
    } else if width > MAX_SIDE
        || height > MAX_SIDE
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        Sniff::Refuse(Refusal::ImageTooLarge)
    } else {
        Sniff::Accept(kind)
    }
}

/// PNG: the first chunk must be `IHDR` (length 13) holding width and height.
fn png(head: &[u8]) -> Sniff {
    let Some(ihdr) = head.get(8..24) else {
        return Sniff::NeedMore;
    };
    if ihdr[..8] != *b"\x00\x00\x00\x0dIHDR" {
        return Sniff::Refuse(Refusal::UnreadableImage);
    }
    let width = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
    let height = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
    dimensions(width, height, Kind::Png)
}

/// JPEG: walks the marker segments to the first start-of-frame, which holds the size.
fn jpeg(head: &[u8]) -> Sniff {
    let mut at = 2;
    loop {
        let Some(&byte) = head.get(at) else {
            return Sniff::NeedMore;
        };
        if byte != 0xFF {
            return Sniff::Refuse(Refusal::UnreadableImage);
        }
        let Some(&marker) = head.get(at + 1) else {
            return Sniff::NeedMore;
        };
        match marker {
            // Fill bytes before a marker.
            0xFF => {
                at += 1;
                continue;
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {
                at += 2;
                continue;
            }
            // Image data or the end before any frame header: not a usable image.
            0xDA | 0xD9 | 0x00 => return Sniff::Refuse(Refusal::UnreadableImage),
            _ => {}
        }
        let Some(len) = head.get(at + 2..at + 4) else {
            return Sniff::NeedMore;
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 2 {
            return Sniff::Refuse(Refusal::UnreadableImage);
        }
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let Some(frame) = head.get(at + 4..at + 9) else {
                return Sniff::NeedMore;
            };
            let height = u32::from(u16::from_be_bytes([frame[1], frame[2]]));
            let width = u32::from(u16::from_be_bytes([frame[3], frame[4]]));
            return dimensions(width, height, Kind::Jpeg);
        }
        at += 2 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let mut v = PNG_SIGNATURE.to_vec();
        v.extend_from_slice(b"\x00\x00\x00\x0dIHDR");
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn jpeg_of(width: u16, height: u16, app_len: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE1];
        v.extend_from_slice(&u16::try_from(app_len + 2).unwrap().to_be_bytes());
        v.extend(std::iter::repeat_n(0u8, app_len));
        v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&[3; 12]);
        v
    }

    #[test]
    fn pdfs_jpegs_and_pngs_are_known_by_their_first_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n", false), Sniff::Accept(Kind::Pdf));
        assert_eq!(sniff(&png_of(800, 600), false), Sniff::Accept(Kind::Png));
        assert_eq!(
            sniff(&jpeg_of(4032, 3024, 30_000), false),
            Sniff::Accept(Kind::Jpeg)
        );
    }

    #[test]
    fn a_program_or_a_polyglot_is_refused_whatever_its_name() {
        let exe = b"MZ\x90\x00\x03\x00\x00\x00%PDF-1.4";
        assert_eq!(sniff(exe, false), Sniff::Refuse(Refusal::UnsupportedType));
        let html_then_pdf = b"<html><script></script>%PDF-1.4";
        assert_eq!(
            sniff(html_then_pdf, false),
            Sniff::Refuse(Refusal::UnsupportedType)
        );
        assert_eq!(
            sniff(b" %PDF-1.4", true),
            Sniff::Refuse(Refusal::UnsupportedType)
        );
        assert_eq!(sniff(b"", true), Sniff::Refuse(Refusal::UnsupportedType));
        assert_eq!(sniff(b"\xFF\xD8", false), Sniff::NeedMore);
        assert_eq!(
            sniff(b"\xFF\xD8", true),
            Sniff::Refuse(Refusal::UnsupportedType)
        );
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0\x00", true),
            Sniff::Refuse(Refusal::UnreadableImage)
        );
    }

    #[test]
    fn images_with_absurd_sizes_are_refused() {
        assert_eq!(
            sniff(&png_of(100_000, 100_000), false),
            Sniff::Refuse(Refusal::ImageTooLarge)
        );
        assert_eq!(
            sniff(&png_of(20_000, 10_000), false),
            Sniff::Refuse(Refusal::ImageTooLarge)
        );
        assert_eq!(
            sniff(&png_of(0, 10), false),
            Sniff::Refuse(Refusal::UnreadableImage)
        );
        assert_eq!(
            sniff(&jpeg_of(65_000, 65_000, 10), false),
            Sniff::Refuse(Refusal::ImageTooLarge)
        );
        assert_eq!(
            sniff(&jpeg_of(100, 0, 10), false),
            Sniff::Refuse(Refusal::UnreadableImage)
        );
    }

    #[test]
    fn a_jpeg_whose_size_comes_late_is_read_as_it_arrives() {
        let jpeg = jpeg_of(640, 480, 60_000);
        assert_eq!(sniff(&jpeg[..1000], false), Sniff::NeedMore);
        assert_eq!(sniff(&jpeg, false), Sniff::Accept(Kind::Jpeg));
        let mut broken = png_of(10, 10);
        broken[12..16].copy_from_slice(b"IDAT");
        assert_eq!(
            sniff(&broken, false),
            Sniff::Refuse(Refusal::UnreadableImage)
        );
    }
}
