//! The plumbing every plotters picture shares: one drawing code, to SVG and, when asked,
//! to a PNG with fixed encoder settings.

use super::*;

/// A picture plotters can draw on any backend (so SVG and PNG come from the same code).
pub(crate) trait Picture {
    /// What drawing learns besides pixels (the timeline's time axis).
    type Meta;
    /// Width and height.
    fn size_px(&self) -> (u32, u32);
    /// Draws on `root` (already sized); errors are plotters' messages.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>)
        -> Result<Self::Meta, String>;
}

/// A plotters error as text.
pub(crate) fn fail(error: impl std::fmt::Display) -> String {
    error.to_string()
}

/// A picture as SVG, optionally PNG, and what drawing it learned.
pub(crate) struct Rendered<M> {
    pub(crate) svg: String,
    pub(crate) png: Option<Vec<u8>>,
    pub(crate) meta: M,
}

/// Draws `picture` to SVG and, if `png`, to an RGB bitmap encoded as PNG.
pub(crate) fn render_picture<P: Picture>(
    name: &str,
    picture: &P,
    png: bool,
) -> Result<Rendered<P::Meta>, ReportError> {
    fonts::ensure_registered();
    let draw_error = |message: String| ReportError::Draw {
        picture: name.to_string(),
        message,
    };
    let (width, height) = picture.size_px();
    let mut svg = String::new();
    let meta = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        picture.draw(&root).map_err(draw_error)?
    };
    let png = if png {
        let mut rgb = vec![0u8; width as usize * height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            picture.draw(&root).map_err(draw_error)?;
        }
        Some(encode_png(&rgb, width, height).map_err(draw_error)?)
    } else {
        None
    };
    Ok(Rendered { svg, png, meta })
}

/// PNG bytes of an RGB buffer, with fixed encoder settings (no timestamps or text chunks),
/// so the same pixels always give the same file.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Default);
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(rgb).map_err(fail)?;
        writer.finish().map_err(fail)?;
    }
    Ok(bytes)
}
