/// A failure reading or writing a file (an image, a weight file, a checkpoint). Its description is
/// one line that names the file, in words a user can act on.
public struct FileError: Error, CustomStringConvertible, Sendable {
    /// The file the error is about.
    public let path: String
    /// What went wrong.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(PathEncoding.displayed(path)): \(reason)" }
}
