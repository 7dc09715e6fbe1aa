/// GIF's variable-width LZW code (GIF89a, appendix F): codes of 3-12 bits packed least significant bit
/// first, a clear code (2^minimumCodeSize), an end code (clear + 1), and a table that grows one entry per
/// code up to 4096 entries.
enum GIFLZW {
    static let maximumCodes = 4096

    /// Decodes `data` (the concatenated sub-blocks of one image) into at most `pixelCount` indices.
    ///
    /// Lenient the way browsers are: data that ends early gives fewer indices (the caller leaves the
    /// rest of the frame as it was), data past the end code is ignored, and a full table is kept until
    /// the next clear code. A code that cannot occur in a valid stream throws.
    /// - Parameter minimumCodeSize: 1-11, from the byte before the image data (8 for 256 colours).
    static func decode(_ data: [UInt8], minimumCodeSize: Int, pixelCount: Int) throws -> [UInt8] {
        guard (1...11).contains(minimumCodeSize) else { throw GIFLZWError.invalidCodeSize(minimumCodeSize) }
        let clear = 1 << minimumCodeSize
        let end = clear + 1
        var prefix = [Int16](repeating: -1, count: maximumCodes)
        var suffix = [UInt8](repeating: 0, count: maximumCodes)
        var firstByte = [UInt8](repeating: 0, count: maximumCodes)
        var length = [Int32](repeating: 0, count: maximumCodes)
        for code in 0..<min(clear, 256) {
            suffix[code] = UInt8(code)
            firstByte[code] = UInt8(code)
            length[code] = 1
        }
        var output = [UInt8](repeating: 0, count: pixelCount)
        var written = 0
        var codeSize = minimumCodeSize + 1
        var next = clear + 2
        var previous = -1
        var buffer = 0
        var bits = 0
        var position = 0
        while written < pixelCount {
            while bits < codeSize && position < data.count {
                buffer |= Int(data[position]) << bits
                position += 1
                bits += 8
            }
            guard bits >= codeSize else { break }
            let code = buffer & ((1 << codeSize) - 1)
            buffer >>= codeSize
            bits -= codeSize
            if code == clear {
                codeSize = minimumCodeSize + 1
                next = clear + 2
                previous = -1
                continue
            }
            if code == end { break }
            // A code below the clear code beyond a small table (minimum code size > 8) has no string.
            if code < clear && code >= 256 { throw GIFLZWError.invalidCode(code) }
            let emitted: Int
            if previous < 0 {
                guard code < clear else { throw GIFLZWError.invalidCode(code) }
                emitted = code
            } else if code < next {
                emitted = code
                if next < maximumCodes {
                    prefix[next] = Int16(previous)
                    suffix[next] = firstByte[code]
                    firstByte[next] = firstByte[previous]
                    length[next] = length[previous] + 1
                }
            } else if code == next && next < maximumCodes {
                // The string of the previous code followed by its own first byte ("KwKwK").
                prefix[next] = Int16(previous)
                suffix[next] = firstByte[previous]
                firstByte[next] = firstByte[previous]
                length[next] = length[previous] + 1
                emitted = code
            } else {
                throw GIFLZWError.invalidCode(code)
            }
            // Write the string backwards from its last byte; clip at the frame's end.
            let count = Int(length[emitted])
            var cursor = emitted
            var index = written + count - 1
            while cursor >= 0 {
                if index < pixelCount { output[index] = suffix[cursor] }
                index -= 1
                cursor = Int(prefix[cursor])
            }
            written = min(pixelCount, written + count)
            if previous >= 0 && next < maximumCodes {
                next += 1
                if next == 1 << codeSize && codeSize < 12 { codeSize += 1 }
            }
            previous = code
        }
        return written == pixelCount ? output : Array(output[0..<written])
    }

    /// Encodes `indices` (each below 2^minimumCodeSize) as one image's LZW data, without the sub-block
    /// framing. The table is cleared whenever it is full.
    /// - Parameter minimumCodeSize: 2-8.
    static func encode(_ indices: [UInt8], minimumCodeSize: Int) -> [UInt8] {
        precondition((2...8).contains(minimumCodeSize), "GIF minimum code size must be 2-8")
        let clear = 1 << minimumCodeSize
        let end = clear + 1
        // Open-addressing table from (prefix code, next byte) to code; 2^13 slots for at most 4096 entries.
        let slots = 8192
        var keys = [Int32](repeating: -1, count: slots)
        var values = [Int16](repeating: 0, count: slots)
        var output: [UInt8] = []
        output.reserveCapacity(indices.count / 2 + 16)
        var buffer = 0
        var bits = 0
        var codeSize = minimumCodeSize + 1
        var next = clear + 2
        func emit(_ code: Int) {
            buffer |= code << bits
            bits += codeSize
            while bits >= 8 {
                output.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                bits -= 8
            }
        }
        emit(clear)
        guard var current = indices.first.map(Int.init) else {
            emit(end)
            if bits > 0 { output.append(UInt8(buffer & 0xFF)) }
            return output
        }
        precondition(current < clear, "index beyond the colour table")
        for byte in indices.dropFirst() {
            let value = Int(byte)
            precondition(value < clear, "index beyond the colour table")
            let key = Int32(current << 8 | value)
            var slot = Int((UInt32(bitPattern: key) &* 2_654_435_761) >> 19)
            var found = -1
            while keys[slot] != -1 {
                if keys[slot] == key {
                    found = Int(values[slot])
                    break
                }
                slot = (slot + 1) & (slots - 1)
            }
            if found >= 0 {
                current = found
                continue
            }
            emit(current)
            if next < maximumCodes {
                keys[slot] = key
                values[slot] = Int16(next)
                // The decoder widens its codes one code later than the table grows here.
                if next == 1 << codeSize { codeSize += 1 }
                next += 1
            } else {
                emit(clear)
                for index in keys.indices { keys[index] = -1 }
                codeSize = minimumCodeSize + 1
                next = clear + 2
            }
            current = value
        }
        emit(current)
        emit(end)
        if bits > 0 { output.append(UInt8(buffer & 0xFF)) }
        return output
    }
}

enum GIFLZWError: Error, CustomStringConvertible {
    case invalidCodeSize(Int)
    case invalidCode(Int)

    var description: String {
        switch self {
        case .invalidCodeSize(let size): return "invalid LZW minimum code size \(size)"
        case .invalidCode(let code): return "corrupt LZW data (code \(code) out of sequence)"
        }
    }
}
