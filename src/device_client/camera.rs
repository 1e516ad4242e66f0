//! What the phone's camera does: find and read the QR code in a picture.

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CameraError(String);

/// Reads the first QR code in a PNG (e.g. a screenshot of the browser page).
pub fn decode_png(bytes: &[u8]) -> Result<String, CameraError> {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|e| CameraError(format!("not a readable PNG image: {e}")))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    let grid = grids
        .first()
        .ok_or_else(|| CameraError("no QR code found in the image".into()))?;
    let (_meta, content) = grid
        .decode()
        .map_err(|e| CameraError(format!("the QR code cannot be read: {e}")))?;
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_without_a_qr_code_is_refused() {
        let blank = image::GrayImage::from_pixel(50, 50, image::Luma([255]));
        let mut out = std::io::Cursor::new(Vec::new());
        blank.write_to(&mut out, image::ImageFormat::Png).unwrap();
        assert!(decode_png(&out.into_inner()).is_err());
    }
}
