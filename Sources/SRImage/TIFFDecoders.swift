import CImageCodec
import SRFiles

/// The stored bytes of one strip or tile, read from the file in blocks as a decoder asks for them.
final class TIFFChunkInput {
    private let file: PositionedReader
    private var position: Int
    private let end: Int
    private(set) var block: [UInt8]
    /// The next unread byte of `block`, and how many bytes of it are valid.
    var index = 0
    private(set) var count = 0

    init(file: PositionedReader, offset: Int, length: Int, blockSize: Int = 65_536) {
        self.file = file
        // Offsets and lengths come from the file: clamped to it (negative ones read as nothing).
        position = offset < 0 ? file.size : min(offset, file.size)
        end = length < 0 || length > file.size - position ? file.size : position + length
        block = [UInt8](repeating: 0, count: max(1, min(blockSize, end - position)))
    }

    /// Loads the next block; false when the chunk's bytes are used up.
    func refill() throws -> Bool {
        guard position < end else { return false }
        let wanted = min(block.count, end - position)
        count = try block.withUnsafeMutableBytes { try file.read(at: position, into: .init(rebasing: $0[0..<wanted])) }
        guard count > 0 else { return false }
        position += count
        index = 0
        return true
    }

    /// The next byte.
    /// - Throws: `TIFFFormatError` when the chunk's bytes end first.
    func next() throws -> UInt8 {
        if index == count, try !refill() { throw TIFFFormatError(reason: "image data ends early") }
        index += 1
        return block[index - 1]
    }
}

/// Decodes one strip or tile front to back, a part at a time, so a strip holding the whole image never
/// needs the whole image in memory.
protocol TIFFChunkDecoder: AnyObject {
    /// Fills `output` with the chunk's next decoded bytes.
    /// - Throws: `TIFFFormatError` when the data ends early or is corrupt.
    func read(into output: UnsafeMutableBufferPointer<UInt8>) throws
}

/// Compression 1: the bytes as stored.
final class TIFFUncompressedDecoder: TIFFChunkDecoder {
    private let input: TIFFChunkInput

    init(input: TIFFChunkInput) { self.input = input }

    func read(into output: UnsafeMutableBufferPointer<UInt8>) throws {
        var done = 0
        while done < output.count {
            if input.index == input.count, try !input.refill() {
                throw TIFFFormatError(reason: "image data ends early")
            }
            let take = min(output.count - done, input.count - input.index)
            input.block.withUnsafeBufferPointer { block in
                _ = UnsafeMutableBufferPointer(rebasing: output[done..<(done + take)])
                    .initialize(from: block[input.index..<(input.index + take)])
            }
            input.index += take
            done += take
        }
    }
}

/// Compression 32773 (PackBits): a header byte n copies n + 1 literal bytes (n ≥ 0) or repeats the next
/// byte 1 - n times (n < 0; -128 is skipped).
final class TIFFPackBitsDecoder: TIFFChunkDecoder {
    private let input: TIFFChunkInput
    private var literal = 0
    private var run = 0
    private var runByte: UInt8 = 0

    init(input: TIFFChunkInput) { self.input = input }

    func read(into output: UnsafeMutableBufferPointer<UInt8>) throws {
        var done = 0
        while done < output.count {
            if run > 0 {
                let take = min(run, output.count - done)
                for k in done..<(done + take) { output[k] = runByte }
                run -= take
                done += take
            } else if literal > 0 {
                output[done] = try input.next()
                literal -= 1
                done += 1
            } else {
                let header = Int8(bitPattern: try input.next())
                if header >= 0 {
                    literal = Int(header) + 1
                } else if header != -128 {
                    run = 1 - Int(header)
                    runByte = try input.next()
                }
            }
        }
    }
}

/// Compression 5 (LZW as TIFF 6.0 defines it): codes most significant bit first, 9 to 12 bits wide,
/// the width growing one code earlier than GIF's; 256 clears the table, 257 ends the data.
final class TIFFLZWDecoder: TIFFChunkDecoder {
    private let input: TIFFChunkInput
    private var prefix = [UInt16](repeating: 0, count: 4096)
    private var suffix = [UInt8](repeating: 0, count: 4096)
    private var first = [UInt8](repeating: 0, count: 4096)
    private var length = [UInt16](repeating: 0, count: 4096)
    private var nextCode = 258
    private var width = 9
    private var previous: Int?
    private var bits: UInt64 = 0
    private var bitCount = 0
    private var ended = false
    /// The part of the last code's string that did not fit the caller's output.
    private var pending = [UInt8](repeating: 0, count: 4096)
    private var pendingStart = 0
    private var pendingEnd = 0

    init(input: TIFFChunkInput) throws {
        self.input = input
        for code in 0..<256 {
            suffix[code] = UInt8(code)
            first[code] = UInt8(code)
            length[code] = 1
        }
        // Pre-6.0 writers stored codes least significant bit first; their data starts 0x00 0x01.
        let hasData = try input.index < input.count || input.refill()
        if hasData, input.count >= 2, input.block[0] == 0, input.block[1] & 1 == 1 {
            throw TIFFFormatError(reason: "uses the old, pre-TIFF 6.0 LZW variant, which is not supported")
        }
    }

    func read(into output: UnsafeMutableBufferPointer<UInt8>) throws {
        var done = 0
        while done < output.count {
            if pendingStart < pendingEnd {
                let take = min(pendingEnd - pendingStart, output.count - done)
                for k in 0..<take { output[done + k] = pending[pendingStart + k] }
                pendingStart += take
                done += take
                continue
            }
            guard !ended else { throw TIFFFormatError(reason: "LZW data ends early") }
            let code = try nextCodeValue()
            if code == 256 {
                nextCode = 258
                width = 9
                previous = nil
                continue
            }
            if code == 257 {
                ended = true
                continue
            }
            let emitted: Int
            if let previous {
                if code < nextCode {
                    emitted = code
                    add(prefix: previous, byte: first[code])
                } else if code == nextCode && nextCode < 4096 {
                    add(prefix: previous, byte: first[previous])
                    emitted = code
                } else {
                    throw TIFFFormatError(reason: "has corrupt LZW data (code \(code) before it was defined)")
                }
            } else {
                guard code < 256 else {
                    throw TIFFFormatError(reason: "has corrupt LZW data (code \(code) after a clear)")
                }
                emitted = code
            }
            previous = emitted
            spell(emitted)
        }
    }

    private func add(prefix code: Int, byte: UInt8) {
        guard nextCode < 4096 else { return }
        prefix[nextCode] = UInt16(code)
        suffix[nextCode] = byte
        first[nextCode] = first[code]
        length[nextCode] = length[code] + 1
        nextCode += 1
        if nextCode >= (1 << width) - 1 && width < 12 { width += 1 }
    }

    /// Writes the string of `code` into `pending`.
    private func spell(_ code: Int) {
        var position = Int(length[code])
        pendingStart = 0
        pendingEnd = position
        var current = code
        while position > 0 {
            position -= 1
            pending[position] = suffix[current]
            current = Int(prefix[current])
        }
    }

    private func nextCodeValue() throws -> Int {
        while bitCount < width {
            if input.index == input.count, try !input.refill() {
                // Writers may leave out the end code when the data is complete.
                throw TIFFFormatError(reason: "LZW data ends early")
            }
            bits = bits << 8 | UInt64(input.block[input.index])
            input.index += 1
            bitCount += 8
        }
        bitCount -= width
        return Int((bits >> UInt64(bitCount)) & ((1 << UInt64(width)) - 1))
    }
}

/// Compression 8 and 32946 (Deflate): a zlib stream, decoded by zlib.
final class TIFFDeflateDecoder: TIFFChunkDecoder {
    private let input: TIFFChunkInput
    private let inflater: OpaquePointer
    private var ended = false

    init(input: TIFFChunkInput) throws {
        self.input = input
        guard let inflater = sr_inflater_create() else {
            throw TIFFFormatError(reason: "out of memory starting the Deflate decoder")
        }
        self.inflater = inflater
    }

    deinit { sr_inflater_free(inflater) }

    func read(into output: UnsafeMutableBufferPointer<UInt8>) throws {
        var done = 0
        while done < output.count {
            guard !ended else { throw TIFFFormatError(reason: "Deflate data ends early") }
            if input.index == input.count, try !input.refill() {
                throw TIFFFormatError(reason: "Deflate data ends early")
            }
            var consumed = 0
            var produced = 0
            let status = input.block.withUnsafeBufferPointer { block in
                sr_inflater_run(
                    inflater, block.baseAddress! + input.index, input.count - input.index, &consumed,
                    output.baseAddress! + done, output.count - done, &produced)
            }
            guard status >= 0 else { throw TIFFFormatError(reason: "has corrupt Deflate data") }
            input.index += consumed
            done += produced
            if status == 1 { ended = true }
        }
    }
}
