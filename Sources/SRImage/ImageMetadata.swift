/// Pixels per inch, horizontally and vertically.
public struct Resolution: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { (self.x, self.y) = (x, y) }
}

/// What a file holds besides its pixels, as read and as written.
public struct ImageMetadata: Sendable, Equatable {
    /// The ICC colour profile.
    public var iccProfile: [UInt8]?
    /// The EXIF TIFF block (JPEG APP1 after `Exif\0\0`, PNG eXIf): dates, camera, exposure, GPS.
    public var exif: [UInt8]?
    /// The XMP packet (JPEG APP1, PNG iTXt `XML:com.adobe.xmp`): ratings, keywords, rights.
    public var xmp: [UInt8]?
    /// The stated resolution (JPEG JFIF density, PNG pHYs).
    public var resolution: Resolution?

    public init(
        iccProfile: [UInt8]? = nil, exif: [UInt8]? = nil, xmp: [UInt8]? = nil, resolution: Resolution? = nil
    ) {
        (self.iccProfile, self.exif, self.xmp, self.resolution) = (iccProfile, exif, xmp, resolution)
    }

    /// The metadata of an upscaled output of `width` × `height`: the colour profile and the resolution as
    /// they were (image editors keep the resolution when they resample); EXIF and XMP with their pixel size
    /// set to the output's and, when the reader turned the pixels upright (`resettingOrientation`), their
    /// orientation set to 1 (an orientation not applied stays, so viewers that honour it turn the output as
    /// they turned the input), or left out when `strippingDescriptive` (dates, camera, GPS and rights stay
    /// private).
    public func forOutput(
        width: Int, height: Int, resettingOrientation: Bool, strippingDescriptive: Bool = false
    ) -> ImageMetadata {
        guard !strippingDescriptive else { return ImageMetadata(iccProfile: iccProfile, resolution: resolution) }
        return ImageMetadata(
            iccProfile: iccProfile,
            exif: exif.map {
                ExifBlock($0)?.forOutput(width: width, height: height, resettingOrientation: resettingOrientation)
                    ?? $0
            },
            xmp: xmp.map {
                XMPPacket.forOutput($0, width: width, height: height, resettingOrientation: resettingOrientation)
            },
            resolution: resolution)
    }
}

/// Edits of an XMP packet (RDF/XML text) for an upscaled output, done on the text so everything else
/// stays byte for byte: the pixel-size properties become the output's size and (`resettingOrientation`)
/// `tiff:Orientation` becomes 1, in both of RDF's spellings (`name="value"` attributes and
/// `<name>value</name>` elements).
public enum XMPPacket {
    public static func forOutput(
        _ packet: [UInt8], width: Int, height: Int, resettingOrientation: Bool = true
    ) -> [UInt8] {
        var bytes = packet
        let orientation = resettingOrientation ? [("tiff:Orientation", 1)] : []
        for (name, value) in orientation + [
            ("exif:PixelXDimension", width), ("exif:PixelYDimension", height), ("tiff:ImageWidth", width),
            ("tiff:ImageLength", height),
        ] {
            bytes = replacingValues(of: name, with: String(value), in: bytes)
        }
        return bytes
    }

    /// Every `name="…"`, `name='…'` and `<name>…</name>` in `bytes` whose value is a plain number, with
    /// the number replaced by `value`.
    static func replacingValues(of name: String, with value: String, in bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        let replacement = Array(value.utf8)
        for (open, close) in [(name + "=\"", "\""), (name + "='", "'"), ("<" + name + ">", "</" + name + ">")] {
            let (open, close) = (Array(open.utf8), Array(close.utf8))
            var from = 0
            while let opening = find(open, in: result, from: from),
                let closing = find(close, in: result, from: opening + open.count)
            {
                let start = opening + open.count
                let old = result[start..<closing]
                if !old.isEmpty && old.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x20 }) {
                    result.replaceSubrange(start..<closing, with: replacement)
                    from = start + replacement.count + close.count
                } else {
                    from = closing + close.count
                }
            }
        }
        return result
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, from >= 0, haystack.count - needle.count >= from else { return nil }
        return (from...(haystack.count - needle.count)).first { start in
            haystack[start] == needle[0] && haystack[start..<start + needle.count].elementsEqual(needle)
        }
    }
}
