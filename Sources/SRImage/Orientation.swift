/// EXIF orientation (TIFF tag 0x0112): how the stored pixels must be turned to display upright.
public enum Orientation {
    /// Reads the orientation value (1-8) from an EXIF TIFF block; 1 when absent or unreadable.
    /// - Parameter exif: the bytes after the `Exif\0\0` marker prefix.
    public static func value(fromExif exif: [UInt8]) -> Int {
        guard exif.count >= 8 else { return 1 }
        let little: Bool
        if exif[0] == 0x49 && exif[1] == 0x49 {
            little = true
        } else if exif[0] == 0x4D && exif[1] == 0x4D {
            little = false
        } else {
            return 1
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= exif.count else { return nil }
            return little ? Int(exif[at]) | Int(exif[at + 1]) << 8 : Int(exif[at]) << 8 | Int(exif[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let high = u16(little ? at + 2 : at), let low = u16(little ? at : at + 2) else { return nil }
            return high << 16 | low
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return 1 }
        for entry in 0..<min(count, 512) {
            let at = ifd + 2 + entry * 12
            guard let tag = u16(at) else { return 1 }
            if tag == 0x0112 {
                guard let type = u16(at + 2), type == 3, let value = u16(at + 8) else { return 1 }
                return (1...8).contains(value) ? value : 1
            }
        }
        return 1
    }

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
