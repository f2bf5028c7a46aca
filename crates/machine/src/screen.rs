//! Screenshots: the guest's screen as a PNG file (`--screenshot`, the
//! console escape and the debugger's `screendump`).

use std::path::{Path, PathBuf};

/// Why a screenshot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    /// The file could not be created or written.
    #[error("cannot write screenshot {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("cannot encode screenshot {path}: {why}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The machine has no display adapter.
    #[error("this machine has no display")]
    NoDisplay,
}

/// Encodes `width * height` pixels (0x00RRGGBB, row by row) as an 8-bit
/// RGB PNG.
pub fn encode_png(width: u32, height: u32, pixels: &[u32]) -> Result<Vec<u8>, String> {
    let n = (width as usize).saturating_mul(height as usize);
    if pixels.len() < n || width == 0 || height == 0 {
        return Err(format!(
            "{width}x{height} frame with {} pixels",
            pixels.len()
        ));
    }
    let mut rgb = Vec::with_capacity(n * 3);
    for &p in &pixels[..n] {
        rgb.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    w.write_image_data(&rgb).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Writes a PNG of the frame to `path`.
pub fn write_png(path: &Path, width: u32, height: u32, pixels: &[u32]) -> Result<(), ScreenError> {
    let bytes = encode_png(width, height, pixels).map_err(|why| ScreenError::Encode {
        path: path.to_owned(),
        why,
    })?;
    std::fs::write(path, bytes).map_err(|source| ScreenError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Decodes an 8-bit RGB or RGBA PNG into (width, height, 0x00RRGGBB
/// pixels): for tests comparing screenshots.
pub fn decode_png(bytes: &[u8]) -> Result<(u32, u32, Vec<u32>), String> {
    let dec = png::Decoder::new(bytes);
    let mut reader = dec.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let step = match (info.color_type, info.bit_depth) {
        (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
        (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
        other => return Err(format!("unsupported PNG format {other:?}")),
    };
    let px = buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|c| u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]))
        .collect();
    Ok((info.width, info.height, px))
}

impl crate::Board {
    /// The screen as the display adapter shows it now (no cursor, no
    /// blink phase: the picture QEMU's `screendump` gives), or `None`
    /// without a display.
    pub fn screen_frame(&self) -> Option<anyx86_devices::Frame> {
        let pc = self.pc.as_deref()?;
        Some(pc.vga.render(anyx86_devices::RenderOptions::default()))
    }

    /// Writes the screen to `path` as a PNG (from the run loop's host
    /// hook, which sees the board).
    pub fn screendump(&self, path: &Path) -> Result<(), ScreenError> {
        let f = self.screen_frame().ok_or(ScreenError::NoDisplay)?;
        write_png(path, f.width as u32, f.height as u32, &f.pixels)
    }
}

impl crate::Machine {
    /// The screen as the display adapter shows it now; see
    /// [`crate::Board::screen_frame`].
    pub fn screen_frame(&self) -> Option<anyx86_devices::Frame> {
        self.board.screen_frame()
    }

    /// Writes the screen to `path` as a PNG.
    pub fn screendump(&self, path: &Path) -> Result<(), ScreenError> {
        self.board.screendump(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_pixels() {
        let px = [
            0x00FF_0000,
            0x0000_FF00,
            0x0000_00FF,
            0x0012_3456,
            0,
            0x00FF_FFFF,
        ];
        let png = encode_png(3, 2, &px).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(decode_png(&png).unwrap(), (3, 2, px.to_vec()));
    }

    #[test]
    fn a_short_frame_is_an_error_not_a_panic() {
        assert!(encode_png(4, 4, &[0; 3]).is_err());
        assert!(encode_png(0, 0, &[]).is_err());
        assert!(decode_png(b"not a png").is_err());
    }
}
