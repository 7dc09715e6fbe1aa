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

    /// The upright image for a stored image with the given EXIF orientation.
    public static func apply(_ orientation: Int, to image: PlanarImage) -> PlanarImage {
        if orientation == 1 { return image }
        let w = image.width, h = image.height
        let swapped = swapsAxes(orientation)
        var out = PlanarImage(width: swapped ? h : w, height: swapped ? w : h, channels: image.channels)
        let ow = out.width, oh = out.height
        for c in 0..<image.channels {
            for y in 0..<oh {
                for x in 0..<ow {
                    let sx: Int, sy: Int
                    switch orientation {
                    case 2: (sx, sy) = (w - 1 - x, y)
                    case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                    case 4: (sx, sy) = (x, h - 1 - y)
                    case 5: (sx, sy) = (y, x)
                    case 6: (sx, sy) = (y, h - 1 - x)
                    case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                    default: (sx, sy) = (w - 1 - y, x)  // 8
                    }
                    out[c, y, x] = image[c, sy, sx]
                }
            }
        }
        return out
    }
}
