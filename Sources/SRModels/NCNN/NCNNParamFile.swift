import Foundation

/// The text of an ncnn `.param` file: magic 7767517, "layers blobs", then one line per layer:
/// `Type Name inputCount outputCount input… output… key=value…`.
///
/// Values are integers, floats (with `.` or an exponent) or arrays, whose key is written as −23300 − id
/// and whose value is `count,v1,v2,…`.
struct NCNNParamFile {
    /// One layer line.
    struct Layer {
        let type: String
        let name: String
        let inputs: [String]
        let outputs: [String]
        let parameters: Parameters
        /// 1-based line in the file, for error messages.
        let line: Int
    }

    /// A layer's `key=value` pairs by id.
    struct Parameters {
        enum Value {
            case integer(Int)
            case float(Float)
            case array([Float])
        }
        var values: [Int: Value] = [:]

        /// The integer under `id`, or `fallback` when absent.
        /// - Throws: `ModelError` when the value is a float with a fraction or an array.
        func integer(_ id: Int, _ fallback: Int) throws -> Int {
            switch values[id] {
            case nil: return fallback
            case .integer(let value): return value
            case .float(let value) where value == value.rounded() && abs(value) < 1e9: return Int(value)
            default: throw ModelError("parameter \(id) must be an integer")
            }
        }

        /// The number under `id`, or `fallback` when absent.
        func float(_ id: Int, _ fallback: Float) throws -> Float {
            switch values[id] {
            case nil: return fallback
            case .integer(let value): return Float(value)
            case .float(let value): return value
            case .array: throw ModelError("parameter \(id) must be a number, not an array")
            }
        }

        /// The array under `id` (written with key −23300 − id), or empty when absent.
        func array(_ id: Int) throws -> [Float] {
            switch values[id] {
            case nil: return []
            case .array(let values): return values
            default: throw ModelError("parameter \(id) must be an array")
            }
        }

        /// Ids present, for refusing options a layer does not implement.
        var ids: Set<Int> { Set(values.keys) }
    }

    static let magic = 7_767_517
    let layers: [Layer]

    /// Parses the text; nothing is interpreted beyond syntax and wiring counts.
    /// - Throws: `ModelError` naming the line of the first problem.
    init(text: String) throws {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var index = 0
        func nextLine() -> (Int, [Substring])? {
            while index < lines.count {
                index += 1
                let tokens = lines[index - 1].split(whereSeparator: { $0 == " " || $0 == "\t" })
                if !tokens.isEmpty { return (index, tokens) }
            }
            return nil
        }
        guard let (_, magic) = nextLine(), magic.count == 1, Int(magic[0]) == Self.magic else {
            throw ModelError("not an ncnn .param file (its first line must be the magic number 7767517)")
        }
        guard let (_, counts) = nextLine(), counts.count == 2, let layerCount = Int(counts[0]),
            let blobCount = Int(counts[1]), (1...100_000).contains(layerCount), (1...1_000_000).contains(blobCount)
        else { throw ModelError("line 2 of the .param file must hold the layer and blob counts") }
        var layers: [Layer] = []
        while let (number, tokens) = nextLine() {
            guard tokens.count >= 4, let inputCount = Int(tokens[2]), let outputCount = Int(tokens[3]),
                (0...1000).contains(inputCount), (0...1000).contains(outputCount),
                tokens.count >= 4 + inputCount + outputCount
            else { throw ModelError("line \(number) of the .param file is not a layer description") }
            let names = tokens[4..<(4 + inputCount + outputCount)].map(String.init)
            var parameters = Parameters()
            for token in tokens[(4 + inputCount + outputCount)...] {
                parameters.values.merge(try Self.parameter(token, line: number)) { _, new in new }
            }
            layers.append(
                Layer(
                    type: String(tokens[0]), name: String(tokens[1]), inputs: Array(names[..<inputCount]),
                    outputs: Array(names[inputCount...]), parameters: parameters, line: number))
        }
        guard layers.count == layerCount else {
            throw ModelError("the .param file announces \(layerCount) layers but describes \(layers.count)")
        }
        self.layers = layers
    }

    private static func parameter(_ token: Substring, line: Int) throws -> [Int: Parameters.Value] {
        let parts = token.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let key = Int(parts[0]) else {
            throw ModelError("line \(line): '\(token)' is not a key=value parameter")
        }
        if key <= -23300 {
            let items = parts[1].split(separator: ",")
            guard let count = items.first.flatMap({ Int($0) }), count == items.count - 1 else {
                throw ModelError("line \(line): array parameter '\(token)' does not hold its announced count")
            }
            let values = try items.dropFirst().map { item -> Float in
                guard let value = Float(item), value.isFinite else {
                    throw ModelError("line \(line): '\(item)' in '\(token)' is not a number")
                }
                return value
            }
            return [-23300 - key: .array(values)]
        }
        guard key >= 0 else { throw ModelError("line \(line): parameter key \(key) is not valid") }
        if let value = Int(parts[1]) { return [key: .integer(value)] }
        guard let value = Float(parts[1]), value.isFinite else {
            throw ModelError("line \(line): '\(token)' does not hold a number")
        }
        return [key: .float(value)]
    }
}
