//! The one font every chart is measured and rasterised with, bundled in the binary.
//!
//! plotters finds fonts through its `ab_glyph` backend only by explicit registration: it
//! does not read system fonts. Registering DejaVu Sans (embedded by the `dejavu` crate)
//! means two things hold on any machine, including a bare CI container with no fonts
//! installed:
//! - PNG rendering works at all (without a font, the first label fails to draw);
//! - the same input gives the same pixels everywhere, because text is always laid out with
//!   the same glyph metrics. The SVG output also depends on those metrics (plotters sizes
//!   its label areas and anchors text with them), so snapshots are stable too.
//!
//! Call [`ensure_registered`] before building any chart; it is cheap after the first call.

use std::sync::Once;

use plotters::style::{register_font, FontStyle};

/// The family name charts ask for (plotters' `FontFamily::SansSerif` spells it so, and
/// SVG viewers fall back to their own sans-serif face when they lack DejaVu).
pub const FAMILY: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Registers DejaVu Sans (regular and bold) as the `sans-serif` family, once per process.
///
/// # Panics
///
/// If the embedded font does not parse: the bytes are compiled in, so this is a broken
/// build, not an input error.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        let faces: [(FontStyle, &'static [u8]); 2] = [
            (FontStyle::Normal, dejavu::sans::regular()),
            (FontStyle::Bold, dejavu::sans::bold()),
        ];
        for (style, bytes) in faces {
            if register_font(FAMILY, style, bytes).is_err() {
                panic!("the embedded DejaVu Sans font does not parse");
            }
        }
    });
}
