import Foundation

/// A pickle reader that only builds what a PyTorch state dict holds: dicts (plain and `OrderedDict`),
/// lists, tuples, strings, numbers, booleans, None, tensor rebuild calls and storage references. Any
/// other global (a function or class a pickle may name to be called on load, such as `os.system`) is
/// refused with an error naming it; nothing is ever executed.
struct RestrictedUnpickler {
    indirect enum Value {
        case none
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case bytes([UInt8])
        case list([Value])
        case tuple([Value])
        case dict([(key: Value, value: Value)])
        case global(String)
        /// A storage reference: element type name ("FloatStorage", …), key of its data file, element count.
        case storage(type: String, key: String, count: Int)
        /// A strided view of a storage (`torch._utils._rebuild_tensor_v2`).
        case tensor(storage: String, type: String, offset: Int, shape: [Int], strides: [Int])
        case mark
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.HalfStorage", "torch.DoubleStorage", "torch.BFloat16Storage",
    ]

    private let bytes: [UInt8]
    private var position = 0
    private var stack: [Value] = []
    private var memo: [Int: Value] = [:]

    init(_ data: Data) { bytes = [UInt8](data) }

    /// Reads the pickle's single object.
    mutating func load() throws -> Value {
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80: _ = try byte()  // PROTO
            case 0x95: position += 8  // FRAME
            case 0x2E: return try pop()  // STOP
            case 0x7D: stack.append(.dict([]))  // EMPTY_DICT
            case 0x5D: stack.append(.list([]))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x28: stack.append(.mark)  // MARK
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4B: stack.append(.int(Int(try byte())))  // BININT1
            case 0x4D: stack.append(.int(Int(try unsigned(2))))  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try unsigned(4)))))  // BININT
            case 0x8A: stack.append(.int(try long(Int(try byte()))))  // LONG1
            case 0x47: stack.append(.float(Double(bitPattern: try bigEndian(8))))  // BINFLOAT
            case 0x58: stack.append(.string(try text(Int(try unsigned(4)))))  // BINUNICODE
            case 0x8C: stack.append(.string(try text(Int(try byte()))))  // SHORT_BINUNICODE
            case 0x55: stack.append(.string(try text(Int(try byte()))))  // SHORT_BINSTRING
            case 0x43: stack.append(.bytes(try take(Int(try byte()))))  // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(try take(Int(try unsigned(4)))))  // BINBYTES
            case 0x71: memo[Int(try byte())] = try top()  // BINPUT
            case 0x72: memo[Int(try unsigned(4))] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68: stack.append(try recall(Int(try byte())))  // BINGET
            case 0x6A: stack.append(try recall(Int(try unsigned(4))))  // LONG_BINGET
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86:
                let b = try pop(), a = try pop()
                stack.append(.tuple([a, b]))  // TUPLE2
            case 0x87:
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x61:  // APPEND
                let item = try pop()
                guard case .list(var items) = try pop() else { throw Failure(description: "APPEND to a non-list") }
                items.append(item)
                stack.append(.list(items))
            case 0x65:  // APPENDS
                let items = try popMark()
                guard case .list(var list) = try pop() else { throw Failure(description: "APPENDS to a non-list") }
                list += items
                stack.append(.list(list))
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case 0x75: try setItems(try popMark())  // SETITEMS
            case 0x63:  // GLOBAL
                let module = try line(), name = try line()
                stack.append(try global(module + "." + name))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw Failure(description: "STACK_GLOBAL without names")
                }
                stack.append(try global(module + "." + name))
            case 0x51:  // BINPERSID
                stack.append(try persistent(try pop()))
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                stack.append(try reduce(callable, arguments))
            case 0x62: _ = try pop()  // BUILD: a state dict's `_metadata` attribute, not needed
            default:
                throw Failure(description: String(format: "unsupported pickle opcode 0x%02x", opcode))
            }
        }
    }

    private mutating func global(_ name: String) throws -> Value {
        guard RestrictedUnpickler.allowedGlobals.contains(name) else {
            throw Failure(description: "refusing pickle global '\(name)' (only state-dict contents are read)")
        }
        return .global(name)
    }

    private func persistent(_ identifier: Value) throws -> Value {
        guard case .tuple(let parts) = identifier, parts.count >= 5, case .string("storage") = parts[0],
            case .global(let type) = parts[1], case .string(let key) = parts[2], case .int(let count) = parts[4]
        else { throw Failure(description: "unexpected persistent id") }
        return .storage(type: String(type.split(separator: ".").last!), key: key, count: count)
    }

    private func reduce(_ callable: Value, _ arguments: Value) throws -> Value {
        guard case .global(let name) = callable, case .tuple(let args) = arguments else {
            throw Failure(description: "REDUCE of something other than an allowed global")
        }
        switch name {
        case "collections.OrderedDict": return .dict([])
        case "torch._utils._rebuild_parameter":
            guard let tensor = args.first else { throw Failure(description: "empty parameter rebuild") }
            return tensor
        case "torch._utils._rebuild_tensor_v2":
            guard args.count >= 4, case .storage(let type, let key, _) = args[0], case .int(let offset) = args[1],
                case .tuple(let size) = args[2], case .tuple(let stride) = args[3]
            else { throw Failure(description: "unexpected tensor rebuild arguments") }
            func integers(_ values: [Value]) throws -> [Int] {
                try values.map {
                    guard case .int(let v) = $0 else { throw Failure(description: "non-integer tensor size") }
                    return v
                }
            }
            return .tensor(
                storage: key, type: type, offset: offset, shape: try integers(size), strides: try integers(stride))
        default:
            throw Failure(description: "refusing to call '\(name)'")
        }
    }

    private mutating func setItems(_ items: [Value]) throws {
        guard items.count % 2 == 0, case .dict(var entries) = try pop() else {
            throw Failure(description: "SETITEMS on a non-dict")
        }
        for i in stride(from: 0, to: items.count, by: 2) { entries.append((items[i], items[i + 1])) }
        stack.append(.dict(entries))
    }

    private mutating func popMark() throws -> [Value] {
        guard let index = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
            throw Failure(description: "pickle without MARK")
        }
        let items = Array(stack[(index + 1)...])
        stack.removeSubrange(index...)
        return items
    }

    private mutating func pop() throws -> Value {
        guard let value = stack.popLast() else { throw Failure(description: "pickle stack underflow") }
        return value
    }

    private func top() throws -> Value {
        guard let value = stack.last else { throw Failure(description: "pickle stack underflow") }
        return value
    }

    private func recall(_ index: Int) throws -> Value {
        guard let value = memo[index] else { throw Failure(description: "pickle memo \(index) missing") }
        return value
    }

    private mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw Failure(description: "truncated pickle") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int) throws -> [UInt8] {
        guard count >= 0, position + count <= bytes.count else { throw Failure(description: "truncated pickle") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    private mutating func unsigned(_ count: Int) throws -> UInt64 {
        try take(count).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    private mutating func bigEndian(_ count: Int) throws -> UInt64 {
        try take(count).reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func long(_ count: Int) throws -> Int {
        guard count <= 8 else { throw Failure(description: "integer too large") }
        let raw = try take(count)
        var value: Int64 = 0
        for (i, b) in raw.enumerated() { value |= Int64(b) << (8 * Int64(i)) }
        if count > 0 && count < 8 && raw[count - 1] & 0x80 != 0 { value -= Int64(1) << (8 * Int64(count)) }
        return Int(value)
    }

    private mutating func text(_ count: Int) throws -> String {
        guard let string = String(bytes: try take(count), encoding: .utf8) else {
            throw Failure(description: "pickle string is not UTF-8")
        }
        return string
    }

    private mutating func line() throws -> String {
        var raw: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { break }
            raw.append(b)
            guard raw.count < 256 else { throw Failure(description: "pickle global name too long") }
        }
        return String(decoding: raw, as: UTF8.self)
    }
}
