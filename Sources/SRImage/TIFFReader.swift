import SRFiles

/// Reads one page of a TIFF (classic or BigTIFF, either byte order) front to back, row by row, so
/// memory stays proportional to the width whatever the image's height and however it is cut into strips
/// or tiles.
///
/// Supported: strips and tiles, chunky and planar samples; no compression, LZW, Deflate and PackBits,
/// with or without horizontal differencing (predictor 2), and CCITT fax compression of 1-bit images
/// (modified Huffman, T.4 one- and two-dimensional, T.6); gray (black or white is zero), RGB and palette
/// images; 1, 2, 4, 8 and 16 bits per unsigned sample, and 16-, 32- and 64-bit floating-point gray and RGB
/// samples (SampleFormat 3, with or without the floating-point predictor 3); an extra sample as alpha
/// (associated alpha is converted to straight alpha). Rows are delivered interleaved like
/// `sr_reader_read_rows`: gray, gray + alpha, RGB or RGBA, 8-bit, or 16-bit in host byte order for 16-bit
/// gray and RGB files, or 32-bit floats in host byte order for floating-point files. Floating-point samples
/// keep their values (below 0 and above 1 too) except that NaN and infinities are read as 0, and alpha is
/// clamped to [0, 1]. The descriptive tags (date, camera, artist, copyright, orientation) and the Exif and
/// GPS directories become an EXIF block.
final class TIFFReader {
    let width: Int
    let height: Int
    /// Delivered samples per pixel (1-4) and bits per sample (8, 16, or 32 for floating point).
    let channels: Int
    let bitDepth: Int
    /// TIFF orientation (tag 274, 1-8; 1 when absent or invalid).
    let orientation: Int
    /// Where each page's directory starts in the file (each page is read by a reader of its own).
    let pageOffsets: [Int]
    var pageCount: Int { pageOffsets.count }
    let metadata: ImageMetadata

    private let file: PositionedReader
    private let order: TIFFByteOrder
    private let compression: Int
    private let photometric: Int
    private let bitsPerSample: Int
    /// Samples are IEEE floating point (SampleFormat 3) of `bitsPerSample` 16, 32 or 64 bits.
    private let isFloat: Bool
    private let samplesPerPixel: Int
    /// 1 (gray or palette) or 3 (RGB) colour samples, then the extra samples.
    private let colorSamples: Int
    private let hasAlpha: Bool
    private let associatedAlpha: Bool
    private let predictor: Int
    private let faxCoding: TIFFFaxDecoder.Coding
    /// FillOrder 2: fax data with the bits of each byte stored least significant first.
    private let reversedBits: Bool
    private let colorMap: [UInt16]
    /// Planar configuration 2 stores each sample in its own strips or tiles.
    private let planes: Int
    private let chunkWidth: Int
    private let chunkHeight: Int
    private let chunksAcross: Int
    private let chunksDown: Int
    private let offsets: [Int]
    private let byteCounts: [Int]

    private var row = 0
    private var chunkRow = -1
    private var decoders: [TIFFChunkDecoder] = []
    private var chunkBytes: [UInt8] = []
    /// One image row: `samplesPerPixel` values per pixel, as stored (after the predictor); integer samples
    /// go to `samples`, floating-point ones to `floatSamples`.
    private var samples: [UInt16]
    private var floatSamples: [Float]

    /// Whether the file starts with a TIFF or BigTIFF signature.
    static func isTIFF(path: String) -> Bool {
        guard let file = try? PositionedReader(path: path), let start = try? file.bytes(at: 0, count: 4) else {
            return false
        }
        return TIFFDirectory.hasSignature(start)
    }

    /// Opens `path` and checks everything the decoding needs before any pixel is read.
    /// - Throws: `TIFFFormatError` for a damaged or unsupported file, or one over the `limits` (pixels, and
    ///   the row buffers against the whole-decode bytes); `FileError` when it cannot be read.
    /// `pageOffsets` are the file's directory offsets when a reader of another page found them already
    /// (`TIFFReader.pageOffsets`), so that walking N pages reads the chain once, not N times.
    init(path: String, limits: DecodeLimits, page: Int = 0, pageOffsets knownOffsets: [Int]? = nil) throws {
        let maximumPixels = limits.maximumPixels
        file = try PositionedReader(path: path)
        pageOffsets = try knownOffsets ?? TIFFDirectory.pageOffsets(of: file)
        guard pageOffsets.indices.contains(page) else { throw TIFFFormatError(reason: "has no page \(page + 1)") }
        let directory = try TIFFDirectory(file: file, at: pageOffsets[page])
        order = directory.order
        width = try directory.integer(TIFFTag.imageWidth, default: 0)
        height = try directory.integer(TIFFTag.imageLength, default: 0)
        guard width > 0, height > 0, width < 1 << 31, height < 1 << 31 else {
            throw TIFFFormatError(reason: "has no valid image size (\(width)x\(height))")
        }
        guard width * height <= maximumPixels else {
            throw TIFFFormatError(
                reason:
                    "image is \(width)x\(height) (\(Self.megapixels(width * height)) megapixels), over the limit of "
                    + "\(Self.megapixels(maximumPixels)) megapixels (raise it with --max-pixels)")
        }
        compression = try directory.integer(TIFFTag.compression, default: 1)
        switch compression {
        case 1, 2, 3, 4, 5, 8, 32946, 32773: break
        case 6, 7:
            throw TIFFFormatError(
                reason:
                    "is a JPEG-compressed TIFF, which is not supported (save it with LZW, Deflate or no compression)")
        default: throw TIFFFormatError(reason: "uses TIFF compression scheme \(compression), which is not supported")
        }
        samplesPerPixel = try directory.integer(TIFFTag.samplesPerPixel, default: 1)
        guard (1...16).contains(samplesPerPixel) else {
            throw TIFFFormatError(reason: "has \(samplesPerPixel) samples per pixel")
        }
        let bits = try directory.integers(TIFFTag.bitsPerSample) ?? [1]
        guard let firstBits = bits.first, bits.allSatisfy({ $0 == firstBits }) else {
            throw TIFFFormatError(reason: "has samples of different sizes (\(bits)), which is not supported")
        }
        bitsPerSample = firstBits
        switch try directory.integer(TIFFTag.sampleFormat, default: 1) {
        case 1: isFloat = false
        case 3:
            guard [16, 32, 64].contains(bitsPerSample) else {
                throw TIFFFormatError(
                    reason: "has \(bitsPerSample)-bit floating-point samples; 16, 32 and 64 bits are supported")
            }
            isFloat = true
        case let format:
            throw TIFFFormatError(
                reason: "has \(format == 2 ? "signed integer" : "undefined (sample format \(format))") samples; "
                    + "unsigned integer and floating-point samples are supported")
        }
        photometric = try directory.integer(TIFFTag.photometric, default: samplesPerPixel >= 3 ? 2 : 1)
        switch photometric {
        case 0, 1, 3: colorSamples = 1
        case 2: colorSamples = 3
        case 5: throw TIFFFormatError(reason: "is a CMYK TIFF, which is not supported (convert it to RGB first)")
        default:
            throw TIFFFormatError(
                reason: "uses TIFF colour model \(photometric), which is not supported (gray, RGB and palette are)")
        }
        guard samplesPerPixel >= colorSamples else {
            throw TIFFFormatError(reason: "has \(samplesPerPixel) samples per pixel for its colour model")
        }
        guard !isFloat || photometric == 1 || photometric == 2 else {
            throw TIFFFormatError(
                reason: "has floating-point samples in a \(photometric == 0 ? "white-is-zero" : "palette") image, "
                    + "which is not supported (gray and RGB are)")
        }
        let subByte = [1, 2, 4].contains(bitsPerSample) && !isFloat
        guard
            bitsPerSample == 8 || bitsPerSample == 16 || isFloat
                || (subByte && samplesPerPixel == 1 && photometric != 2)
        else {
            throw TIFFFormatError(
                reason:
                    "has \(bitsPerSample)-bit samples; 8 and 16 bits are supported (1, 2 and 4 for one-sample gray or palette images)"
            )
        }
        if photometric == 3 {
            guard bitsPerSample <= 8, let map = try directory.integers(TIFFTag.colorMap),
                map.count == 3 << bitsPerSample
            else { throw TIFFFormatError(reason: "is a palette image without a valid colour map") }
            colorMap = map.map { UInt16($0 & 0xFFFF) }
        } else {
            colorMap = []
        }
        let extraKind = try directory.integers(TIFFTag.extraSamples)?.first ?? 0
        hasAlpha = samplesPerPixel > colorSamples
        associatedAlpha = hasAlpha && extraKind == 1
        channels = (photometric == 3 ? 3 : colorSamples) + (hasAlpha ? 1 : 0)
        bitDepth = isFloat ? 32 : bitsPerSample == 16 ? 16 : 8
        predictor = try directory.integer(TIFFTag.predictor, default: 1)
        guard predictor == 1 || (isFloat ? predictor == 3 : predictor == 2 && !subByte) else {
            throw TIFFFormatError(reason: "uses TIFF predictor \(predictor), which is not supported")
        }
        let t4Options = try directory.integer(TIFFTag.t4Options, default: 0)
        switch compression {
        case 2, 3, 4:
            guard bitsPerSample == 1 && samplesPerPixel == 1 else {
                throw TIFFFormatError(reason: "uses fax compression on samples that are not 1-bit")
            }
            guard compression != 3 || t4Options & 2 == 0 else {
                throw TIFFFormatError(reason: "uses uncompressed fax mode, which is not supported")
            }
        default: break
        }
        faxCoding =
            compression == 2
            ? .modifiedHuffman : compression == 4 ? .group4 : .group3(twoDimensional: t4Options & 1 == 1)
        reversedBits = try directory.integer(TIFFTag.fillOrder, default: 1) == 2
        let planar = try directory.integer(TIFFTag.planarConfiguration, default: 1)
        planes = planar == 2 ? samplesPerPixel : 1
        let value = try directory.integer(TIFFTag.orientation, default: 1)
        orientation = (1...8).contains(value) ? value : 1

        let offsetsTag: Int
        let countsTag: Int
        if directory.has(TIFFTag.tileWidth) {
            chunkWidth = try directory.integer(TIFFTag.tileWidth, default: 0)
            chunkHeight = try directory.integer(TIFFTag.tileLength, default: 0)
            guard chunkWidth > 0, chunkHeight > 0, chunkWidth <= 1 << 16, chunkHeight <= 1 << 16 else {
                throw TIFFFormatError(reason: "has an invalid tile size (\(chunkWidth)x\(chunkHeight))")
            }
            (offsetsTag, countsTag) = (TIFFTag.tileOffsets, TIFFTag.tileByteCounts)
        } else {
            chunkWidth = width
            chunkHeight = max(1, min(try directory.integer(TIFFTag.rowsPerStrip, default: height), height))
            (offsetsTag, countsTag) = (TIFFTag.stripOffsets, TIFFTag.stripByteCounts)
        }
        chunksAcross = (width + chunkWidth - 1) / chunkWidth
        chunksDown = (height + chunkHeight - 1) / chunkHeight
        let chunks = chunksAcross * chunksDown * planes
        let kind = chunkWidth == width && offsetsTag == TIFFTag.stripOffsets ? "strip" : "tile"
        guard let offsetCount = directory.count(offsetsTag), offsetCount >= chunks else {
            throw TIFFFormatError(
                reason: "has \(directory.count(offsetsTag) ?? 0) \(kind) offsets for its \(chunks) \(kind)s")
        }
        offsets = Array(try directory.integers(offsetsTag)!.prefix(chunks))
        let storedSize = (chunkWidth * (samplesPerPixel / planes) * bitsPerSample + 7) / 8 * chunkHeight
        if let countCount = directory.count(countsTag) {
            guard countCount >= chunks else {
                throw TIFFFormatError(reason: "has \(countCount) \(kind) sizes for its \(chunks) \(kind)s")
            }
            byteCounts = Array(try directory.integers(countsTag)!.prefix(chunks))
        } else if compression == 1 {
            byteCounts = Array(repeating: storedSize, count: chunks)
        } else {
            throw TIFFFormatError(reason: "has no \(kind) sizes")
        }
        // One row of samples, one decoded chunk row and a read block per strip or tile across.
        let rowBuffers = chunksAcross * (chunkWidth * samplesPerPixel * (isFloat ? 12 : 3) + planes * 65_536)
        guard rowBuffers <= limits.maximumWholeDecodeBytes else {
            throw TIFFFormatError(
                reason: "needs \(rowBuffers / 1_000_000) MB for one row of its \(width)-pixel width, over the "
                    + "\(limits.maximumWholeDecodeBytes / 1_000_000) MB allowed")
        }
        let rowSamples = chunksAcross * chunkWidth * samplesPerPixel
        samples = [UInt16](repeating: 0, count: isFloat ? 0 : rowSamples)
        floatSamples = [Float](repeating: 0, count: isFloat ? rowSamples : 0)

        let unit = try directory.integer(TIFFTag.resolutionUnit, default: 2)
        let perInch = unit == 3 ? 2.54 : 1
        let resolution =
            unit == 1
            ? nil
            : try directory.rational(TIFFTag.xResolution).flatMap { x in
                try directory.rational(TIFFTag.yResolution).map { Resolution(x: x * perInch, y: $0 * perInch) }
            }
        let file = file
        let exif = TIFFTagTree.read(
            at: directory.offset, order: order, isBigTIFF: directory.isBigTIFF,
            keep: TIFFTagTree.descriptiveTags.contains
        ) { try? file.bytes(at: $0, count: $1) }
        metadata = ImageMetadata(
            iccProfile: try directory.bytes(TIFFTag.iccProfile), exif: exif.isEmpty ? nil : exif.exifBlock,
            xmp: try directory.bytes(TIFFTag.xmp), resolution: resolution)
    }

    /// Megapixels with one decimal, as the PNG and JPEG reader prints them.
    private static func megapixels(_ pixels: Int) -> String { String((Double(pixels) / 1e5).rounded() / 10) }

    /// Bytes one delivered row takes.
    var rowBytes: Int { width * channels * bitDepth / 8 }

    /// Decodes the next `count` rows into `buffer` (`count × rowBytes` bytes).
    /// - Throws: `TIFFFormatError` when the data is corrupt or ends early.
    func readRows(_ count: Int, into buffer: UnsafeMutableRawPointer) throws {
        precondition(row + count <= height, "reading past the last row")
        for k in 0..<count {
            try decodeRow()
            if isFloat { deliverFloats(into: buffer + k * rowBytes) } else { deliver(into: buffer + k * rowBytes) }
            row += 1
        }
    }

    /// Decodes image row `row` into `samples`.
    private func decodeRow() throws {
        let current = row / chunkHeight
        if current != chunkRow {
            chunkRow = current
            decoders = []
            for plane in 0..<planes {
                for across in 0..<chunksAcross {
                    let index = (plane * chunksDown + current) * chunksAcross + across
                    let input = TIFFChunkInput(file: file, offset: offsets[index], length: byteCounts[index])
                    switch compression {
                    case 1: decoders.append(TIFFUncompressedDecoder(input: input))
                    case 5: decoders.append(try TIFFLZWDecoder(input: input))
                    case 32773: decoders.append(TIFFPackBitsDecoder(input: input))
                    case 2, 3, 4:
                        decoders.append(
                            TIFFFaxDecoder(input: input, width: chunkWidth, coding: faxCoding, reversed: reversedBits))
                    default: decoders.append(try TIFFDeflateDecoder(input: input))
                    }
                }
            }
        }
        let planeSamples = samplesPerPixel / planes
        let chunkRowBytes = (chunkWidth * planeSamples * bitsPerSample + 7) / 8
        if chunkBytes.count < chunkRowBytes { chunkBytes = [UInt8](repeating: 0, count: chunkRowBytes) }
        for plane in 0..<planes {
            for across in 0..<chunksAcross {
                try chunkBytes.withUnsafeMutableBufferPointer {
                    try decoders[plane * chunksAcross + across].read(into: .init(rebasing: $0[0..<chunkRowBytes]))
                }
                let pixels = min(chunkWidth, width - across * chunkWidth)
                if isFloat {
                    unpackFloats(
                        firstPixel: across * chunkWidth, pixels: pixels, firstSample: plane * planeSamples,
                        count: planeSamples)
                } else {
                    unpack(
                        firstPixel: across * chunkWidth, pixels: pixels, firstSample: plane * planeSamples,
                        count: planeSamples)
                }
            }
        }
    }

    /// Spreads one chunk row's stored bytes into `samples` (pixels `firstPixel...`, samples
    /// `firstSample..<firstSample + count` of each), undoing horizontal differencing.
    private func unpack(firstPixel: Int, pixels: Int, firstSample: Int, count: Int) {
        let bits = bitsPerSample
        let little = order.littleEndian
        chunkBytes.withUnsafeBufferPointer { stored in
            samples.withUnsafeMutableBufferPointer { samples in
                for x in 0..<pixels {
                    let target = (firstPixel + x) * samplesPerPixel + firstSample
                    for s in 0..<count {
                        let index = x * count + s
                        var value: UInt16
                        switch bits {
                        case 16:
                            let (a, b) = (UInt16(stored[2 * index]), UInt16(stored[2 * index + 1]))
                            value = little ? a | b << 8 : a << 8 | b
                        case 8: value = UInt16(stored[index])
                        default:
                            let bit = index * bits
                            value = UInt16(stored[bit >> 3] >> UInt8(8 - bits - bit & 7)) & UInt16((1 << bits) - 1)
                        }
                        if predictor == 2 && x > 0 {
                            value = value &+ samples[target + s - samplesPerPixel]
                            if bits == 8 { value &= 0xFF }
                        }
                        samples[target + s] = value
                    }
                }
            }
        }
    }

    /// Spreads one chunk row's stored floating-point bytes into `floatSamples` (pixels `firstPixel...`,
    /// samples `firstSample..<firstSample + count` of each). Predictor 3 stores a row's bytes most significant
    /// first in byte planes (every value's first byte, then every value's second, ...) and then differences
    /// each byte from the one `count` places before it; the bytes' order then no longer depends on the file's.
    private func unpackFloats(firstPixel: Int, pixels: Int, firstSample: Int, count: Int) {
        let size = bitsPerSample / 8
        let values = chunkWidth * count
        let little = order.littleEndian
        let planesOfBytes = predictor == 3
        chunkBytes.withUnsafeMutableBufferPointer { stored in
            if planesOfBytes {
                for j in count..<(values * size) { stored[j] = stored[j] &+ stored[j - count] }
            }
            floatSamples.withUnsafeMutableBufferPointer { samples in
                for x in 0..<pixels {
                    for s in 0..<count {
                        let index = x * count + s
                        var bits: UInt64 = 0
                        for k in 0..<size {
                            let byte =
                                planesOfBytes
                                ? stored[k * values + index] : stored[index * size + (little ? size - 1 - k : k)]
                            bits = bits << 8 | UInt64(byte)
                        }
                        let value =
                            switch size {
                            case 2: Float(Float16(bitPattern: UInt16(bits)))
                            case 4: Float(bitPattern: UInt32(bits))
                            default: Float(Double(bitPattern: bits))
                            }
                        samples[(firstPixel + x) * samplesPerPixel + firstSample + s] = value.isFinite ? value : 0
                    }
                }
            }
        }
    }

    /// Writes `floatSamples` as one delivered row of 32-bit floats, alpha clamped to [0, 1] and associated
    /// alpha divided out.
    private func deliverFloats(into target: UnsafeMutableRawPointer) {
        let out = target.assumingMemoryBound(to: Float.self)
        floatSamples.withUnsafeBufferPointer { samples in
            for x in 0..<width {
                let base = x * samplesPerPixel
                let alpha = hasAlpha ? min(max(samples[base + colorSamples], 0), 1) : 1
                for c in 0..<colorSamples {
                    let value = samples[base + c]
                    out[x * channels + c] = associatedAlpha ? (alpha > 0 ? value / alpha : 0) : value
                }
                if hasAlpha { out[x * channels + colorSamples] = alpha }
            }
        }
    }

    /// Writes `samples` as one delivered row.
    private func deliver(into target: UnsafeMutableRawPointer) {
        let maximum = (1 << bitsPerSample) - 1
        let paletteSize = colorMap.count / 3
        var pixel = [Int](repeating: 0, count: 4)
        samples.withUnsafeBufferPointer { samples in
            for x in 0..<width {
                let base = x * samplesPerPixel
                var value = Int(samples[base])
                if photometric == 3 {
                    for c in 0..<3 { pixel[c] = Int(colorMap[c * paletteSize + value] >> 8) }
                } else {
                    if photometric == 0 { value = maximum - value }
                    pixel[0] = value
                    for c in 1..<colorSamples { pixel[c] = Int(samples[base + c]) }
                    if bitsPerSample < 8 { pixel[0] = pixel[0] * 255 / maximum }
                }
                let colors = channels - (hasAlpha ? 1 : 0)
                if hasAlpha {
                    let alpha = Int(samples[base + colorSamples])
                    pixel[colors] = alpha
                    if associatedAlpha {
                        for c in 0..<colors {
                            pixel[c] = alpha == 0 ? 0 : min(maximum, (pixel[c] * maximum + alpha / 2) / alpha)
                        }
                    }
                }
                if bitDepth == 16 {
                    let out = target.assumingMemoryBound(to: UInt16.self) + x * channels
                    for c in 0..<channels { out[c] = UInt16(pixel[c]) }
                } else {
                    let out = target.assumingMemoryBound(to: UInt8.self) + x * channels
                    for c in 0..<channels { out[c] = UInt8(pixel[c]) }
                }
            }
        }
    }
}
