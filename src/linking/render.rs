//! Drawing QR codes: inline SVG for pages, PNG for the image URL.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the QR code: {0}")]
pub struct RenderError(String);

fn code(content: &str) -> Result<QrCode, RenderError> {
    // Level M survives a little glare or a slightly blurred phone camera.
    QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M)
        .map_err(|e| RenderError(e.to_string()))
}

/// A self-contained SVG document (no script), scalable.
pub fn svg(content: &str) -> Result<String, RenderError> {
    Ok(code(content)?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// A PNG image.
pub fn png(content: &str) -> Result<Vec<u8>, RenderError> {
    let image = code(content)?
        .render::<image::Luma<u8>>()
        .min_dimensions(320, 320)
        .quiet_zone(true)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| RenderError(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_qr_code_decodes_back_to_its_content() {
        let content = "http://127.0.0.1:8080/link#abc.123.def";
        let bytes = png(content).unwrap();
        assert_eq!(
            crate::device_client::camera::decode_png(&bytes).unwrap(),
            content
        );
    }

    #[test]
    fn svg_output_is_a_standalone_svg_without_script() {
        let out = svg("hello").unwrap();
        assert!(out.contains("<svg"));
        assert!(!out.contains("<script"));
    }
}
