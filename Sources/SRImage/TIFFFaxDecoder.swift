/// The run-length codes of ITU-T T.4 (tables 2 and 3), as bit strings: terminating codes for runs 0-63,
/// make-up codes for 64-1728 in steps of 64 (one table per colour), and the make-up codes both colours
/// share for 1792-2560.
enum FaxCodes {
    static let whiteTerminating = [
        "00110101", "000111", "0111", "1000", "1011", "1100", "1110", "1111", "10011", "10100", "00111", "01000",
        "001000", "000011", "110100", "110101", "101010", "101011", "0100111", "0001100", "0001000", "0010111",
        "0000011", "0000100", "0101000", "0101011", "0010011", "0100100", "0011000", "00000010", "00000011",
        "00011010", "00011011", "00010010", "00010011", "00010100", "00010101", "00010110", "00010111", "00101000",
        "00101001", "00101010", "00101011", "00101100", "00101101", "00000100", "00000101", "00001010", "00001011",
        "01010010", "01010011", "01010100", "01010101", "00100100", "00100101", "01011000", "01011001", "01011010",
        "01011011", "01001010", "01001011", "00110010", "00110011", "00110100",
    ]
    static let blackTerminating = [
        "0000110111", "010", "11", "10", "011", "0011", "0010", "00011", "000101", "000100", "0000100", "0000101",
        "0000111", "00000100", "00000111", "000011000", "0000010111", "0000011000", "0000001000", "00001100111",
        "00001101000", "00001101100", "00000110111", "00000101000", "00000010111", "00000011000", "000011001010",
        "000011001011", "000011001100", "000011001101", "000001101000", "000001101001", "000001101010",
        "000001101011", "000011010010", "000011010011", "000011010100", "000011010101", "000011010110",
        "000011010111", "000001101100", "000001101101", "000011011010", "000011011011", "000001010100",
        "000001010101", "000001010110", "000001010111", "000001100100", "000001100101", "000001010010",
        "000001010011", "000000100100", "000000110111", "000000111000", "000000100111", "000000101000",
        "000001011000", "000001011001", "000000101011", "000000101100", "000001011010", "000001100110",
        "000001100111",
    ]
    static let whiteMakeUp = [
        "11011", "10010", "010111", "0110111", "00110110", "00110111", "01100100", "01100101", "01101000", "01100111",
        "011001100", "011001101", "011010010", "011010011", "011010100", "011010101", "011010110", "011010111",
        "011011000", "011011001", "011011010", "011011011", "010011000", "010011001", "010011010", "011000",
        "010011011",
    ]
    static let blackMakeUp = [
        "0000001111", "000011001000", "000011001001", "000001011011", "000000110011", "000000110100",
        "000000110101", "0000001101100", "0000001101101", "0000001001010", "0000001001011", "0000001001100",
        "0000001001101", "0000001110010", "0000001110011", "0000001110100", "0000001110101", "0000001110110",
        "0000001110111", "0000001010010", "0000001010011", "0000001010100", "0000001010101", "0000001011010",
        "0000001011011", "0000001100100", "0000001100101",
    ]
    static let sharedMakeUp = [
        "00000001000", "00000001100", "00000001101", "000000010010", "000000010011", "000000010100", "000000010101",
        "000000010110", "000000010111", "000000011100", "000000011101", "000000011110", "000000011111",
    ]

    /// Run length by `length << 16 | code`, for white (index 0) and black (index 1).
    static let runs: [[Int: Int]] = [(whiteTerminating, whiteMakeUp), (blackTerminating, blackMakeUp)].map {
        terminating, makeUp in
        var table: [Int: Int] = [:]
        func add(_ bits: String, _ run: Int) { table[bits.count << 16 | Int(bits, radix: 2)!] = run }
        for (run, bits) in terminating.enumerated() { add(bits, run) }
        for (k, bits) in makeUp.enumerated() { add(bits, 64 * (k + 1)) }
        for (k, bits) in sharedMakeUp.enumerated() { add(bits, 1792 + 64 * k) }
        return table
    }
}

/// Compression 2 (CCITT modified Huffman, each row starting on a byte), 3 (T.4 fax: one- or two-dimensional
/// rows after end-of-line codes) and 4 (T.6 fax: two-dimensional rows against the row above), decoded row by
/// row into 1-bit rows where black is 1.
final class TIFFFaxDecoder: TIFFChunkDecoder {
    enum Coding {
        case modifiedHuffman
        case group3(twoDimensional: Bool)
        case group4
    }

    private let input: TIFFChunkInput
    private let width: Int
    private let coding: Coding
    /// FillOrder 2: the bits of each byte are stored least significant first.
    private let reversed: Bool
    private var bits: UInt64 = 0
    private var bitCount = 0
    private var paddedBytes = 0
    /// The changing elements of the row above (columns where the colour changes), then `width` twice.
    private var reference: [Int]
    private var pixels: [UInt8]

    init(input: TIFFChunkInput, width: Int, coding: Coding, reversed: Bool) {
        (self.input, self.width, self.coding, self.reversed) = (input, width, coding, reversed)
        reference = [width, width]
        pixels = [UInt8](repeating: 0, count: width)
    }

    func read(into output: UnsafeMutableBufferPointer<UInt8>) throws {
        let rowBytes = (width + 7) / 8
        precondition(output.count % rowBytes == 0, "fax rows are read whole")
        for row in 0..<(output.count / rowBytes) {
            try decodeRow()
            for k in 0..<rowBytes {
                var byte: UInt8 = 0
                for bit in 0..<8 where k * 8 + bit < width { byte |= pixels[k * 8 + bit] << (7 - bit) }
                output[row * rowBytes + k] = byte
            }
        }
    }

    private func decodeRow() throws {
        switch coding {
        case .modifiedHuffman:
            bitCount -= bitCount % 8
            reference = try oneDimensionalRow()
        case .group3(let twoDimensional):
            try skipEndOfLine()
            reference = try !twoDimensional || readBit() == 1 ? oneDimensionalRow() : twoDimensionalRow()
        case .group4:
            reference = try twoDimensionalRow()
        }
    }

    /// Skips fill zeros and an end-of-line code (eleven zeros and a one) where there is one.
    private func skipEndOfLine() throws {
        guard try peek(11) == 0 else { return }
        var zeros = 0
        while try readBit() == 0 {
            zeros += 1
            guard zeros < 64 else { throw TIFFFormatError(reason: "has corrupt fax data (no end of line)") }
        }
    }

    /// A row of alternating white and black runs; returns its changing elements.
    private func oneDimensionalRow() throws -> [Int] {
        var changes: [Int] = []
        var column = 0
        var black = false
        while column < width {
            let run = try readRun(black: black)
            fill(from: column, to: column + run, black: black)
            column += run
            changes.append(column)
            black.toggle()
        }
        return changes + [width, width]
    }

    /// A row coded against `reference` (T.4 section 4.2: pass, horizontal and vertical modes).
    private func twoDimensionalRow() throws -> [Int] {
        var changes: [Int] = []
        var a0 = -1
        var black = false
        var index = 0
        while a0 < width {
            // b1: the first change on the row above right of a0 to the colour opposite a0's; b2 the next one.
            // Changes alternate: even indices turn black, odd ones white.
            index = max(0, index - 1)
            while index < reference.count - 2
                && (reference[index] <= a0 || (index % 2 == 1) != black)
            {
                index += 1
            }
            let b1 = reference[index]
            let b2 = reference[min(index + 1, reference.count - 1)]
            let start = max(a0, 0)
            switch try readMode() {
            case .pass:
                fill(from: start, to: b2, black: black)
                a0 = b2
            case .horizontal:
                let first = try readRun(black: black)
                let second = try readRun(black: !black)
                guard start + first + second <= width else {
                    throw TIFFFormatError(reason: "has corrupt fax data (runs past the row)")
                }
                fill(from: start, to: start + first, black: black)
                fill(from: start + first, to: start + first + second, black: !black)
                changes += [start + first, start + first + second]
                a0 = start + first + second
            case .vertical(let shift):
                let a1 = b1 + shift
                guard a1 >= start, a1 <= width else {
                    throw TIFFFormatError(reason: "has corrupt fax data (a change outside the row)")
                }
                fill(from: start, to: a1, black: black)
                changes.append(a1)
                a0 = a1
                black.toggle()
            }
        }
        return changes + [width, width]
    }

    private enum Mode {
        case pass, horizontal
        case vertical(Int)
    }

    /// T.4 table 4: 0001 pass, 001 horizontal, 1 / 011 / 000011 / 0000011 vertical 0 / +1 / +2 / +3, and
    /// 010 / 000010 / 0000010 vertical -1 / -2 / -3.
    private func readMode() throws -> Mode {
        if try readBit() == 1 { return .vertical(0) }
        if try readBit() == 1 { return try readBit() == 1 ? .vertical(1) : .vertical(-1) }
        if try readBit() == 1 { return .horizontal }
        if try readBit() == 1 { return .pass }
        if try readBit() == 1 { return try readBit() == 1 ? .vertical(2) : .vertical(-2) }
        if try readBit() == 1 { return try readBit() == 1 ? .vertical(3) : .vertical(-3) }
        throw TIFFFormatError(reason: "has fax data this reader does not support (extensions or uncompressed mode)")
    }

    /// One run: make-up codes, then a terminating code.
    private func readRun(black: Bool) throws -> Int {
        let table = FaxCodes.runs[black ? 1 : 0]
        var total = 0
        while true {
            var code = 0
            var length = 0
            var run: Int?
            while run == nil {
                code = code << 1 | (try readBit())
                length += 1
                guard length <= 13 else { throw TIFFFormatError(reason: "has corrupt fax data (an unknown code)") }
                run = table[length << 16 | code]
            }
            total += run!
            guard total <= width else { throw TIFFFormatError(reason: "has corrupt fax data (runs past the row)") }
            if run! < 64 { return total }
        }
    }

    private func fill(from start: Int, to end: Int, black: Bool) {
        guard start < end else { return }
        for x in start..<min(end, width) { pixels[x] = black ? 1 : 0 }
    }

    private func readBit() throws -> Int {
        if bitCount == 0 { try load() }
        bitCount -= 1
        return Int(bits >> UInt64(bitCount)) & 1
    }

    /// The next `count` bits (at most 16) without consuming them.
    private func peek(_ count: Int) throws -> Int {
        while bitCount < count { try load() }
        return Int(bits >> UInt64(bitCount - count)) & ((1 << count) - 1)
    }

    /// Appends one byte to the bit buffer; past the end of the data, zeros (a few bytes' worth, so the last
    /// row's codes can be peeked at), then an error.
    private func load() throws {
        var byte: UInt8 = 0
        if try input.index < input.count || input.refill() {
            byte = input.block[input.index]
            input.index += 1
        } else {
            paddedBytes += 1
            guard paddedBytes <= 8 else { throw TIFFFormatError(reason: "fax data ends early") }
        }
        if reversed { byte = UInt8(byte.bitReversed) }
        bits = (bits << 8 | UInt64(byte)) & 0xFFFF_FFFF
        bitCount += 8
    }
}

extension UInt8 {
    /// The byte with its bit order reversed.
    fileprivate var bitReversed: UInt8 {
        var value = self
        var result: UInt8 = 0
        for _ in 0..<8 {
            result = result << 1 | value & 1
            value >>= 1
        }
        return result
    }
}
