import SRFiles

/// A failure reading or writing an image file: one line that names the file.
public typealias ImageError = FileError
