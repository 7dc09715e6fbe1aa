/// A failure reading or writing an image file. Its description is one line that names the file.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    /// The file the error is about.
    public let path: String
    /// What went wrong, in words a user can act on.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
