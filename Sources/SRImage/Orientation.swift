/// EXIF orientation (TIFF tag 0x0112): how the stored pixels must be turned to display upright.
public enum Orientation {
    /// Reads the orientation value (1-8) from an EXIF TIFF block; 1 when absent or unreadable.
    /// - Parameter exif: the bytes after the `Exif\0\0` marker prefix.
    public static func value(fromExif exif: [UInt8]) -> Int { ExifBlock(exif)?.orientation ?? 1 }

    /// Whether an orientation only mirrors rows (1, 2) and so allows decoding row by row.
    public static func isStreamable(_ orientation: Int) -> Bool { orientation == 1 || orientation == 2 }

    /// Whether an orientation swaps width and height (5-8).
    public static func swapsAxes(_ orientation: Int) -> Bool { orientation >= 5 }

    /// Where display row `y` of an upright image lies in the stored image of `width` × `height`
    /// (stored size): the stored pixel index (y · width + x) of display column 0, and the step in
    /// stored pixels from one display column to the next.
    public static func storedLine(
        _ orientation: Int, row y: Int, width w: Int, height h: Int
    ) -> (start: Int, step: Int) {
        switch orientation {
        case 2: return (y * w + w - 1, -1)
        case 3: return ((h - 1 - y) * w + w - 1, -1)
        case 4: return ((h - 1 - y) * w, 1)
        case 5: return (y, w)
        case 6: return ((h - 1) * w + y, -w)
        case 7: return ((h - 1) * w + w - 1 - y, -w)
        case 8: return (w - 1 - y, w)
        default: return (y * w, 1)
        }
    }

    /// The upright image for a stored image with the given EXIF orientation.
    public static func apply(_ orientation: Int, to image: PlanarImage) -> PlanarImage {
        if orientation == 1 { return image }
        let (w, h) = (image.width, image.height)
        let swapped = swapsAxes(orientation)
        var out = PlanarImage(width: swapped ? h : w, height: swapped ? w : h, channels: image.channels)
        let plane = w * h
        for c in 0..<image.channels {
            for y in 0..<out.height {
                let (start, step) = storedLine(orientation, row: y, width: w, height: h)
                for x in 0..<out.width { out[c, y, x] = image.pixels[c * plane + start + x * step] }
            }
        }
        return out
    }
}
