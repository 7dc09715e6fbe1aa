import Foundation
import SRFiles
import SRImage

/// Which files of a folder a batch takes (`--include`, `--exclude`): shell patterns with `*`, `?` and
/// `[…]`, matched ignoring case. A pattern with a `/` is matched against the path relative to the input
/// folder (`*` does not cross a `/`), one without against the file name. A file is taken when it matches
/// some include pattern (or there are none) and no exclude pattern.
struct FileSelection: Sendable {
    var include: [String] = []
    var exclude: [String] = []

    var isEmpty: Bool { include.isEmpty && exclude.isEmpty }

    func accepts(_ relative: String) -> Bool {
        (include.isEmpty || include.contains { Self.matches($0, relative) })
            && !exclude.contains { Self.matches($0, relative) }
    }

    /// GNU and BSD `FNM_CASEFOLD`.
    private static let caseFold: Int32 = 1 << 4

    static func matches(_ pattern: String, _ relative: String) -> Bool {
        let byPath = pattern.contains("/")
        let subject = byPath ? relative : FileSystem.fileName(of: relative)
        return fnmatch(pattern, subject, caseFold | (byPath ? FNM_PATHNAME : 0)) == 0
    }
}

/// A folder's work, planned before any file is created: every input, the output it will become, and
/// every reason the batch must not start (an output that would overwrite an input, two inputs that
/// would be written to one name, a name that escapes the output folder) listed together.
struct BatchPlan {
    struct Item {
        /// Input path.
        let source: String
        /// Input path relative to the input folder (for progress lines).
        let relative: String
        /// Output path.
        let target: String
    }

    /// Files to upscale, in sorted order.
    var items: [Item] = []
    /// Image-named entries that are not regular files (FIFOs, devices, …): each is one failure.
    var rejected: [(path: String, reason: String)] = []

    static let imageExtensions: Set<String> = [
        "png", "jpg", "jpeg", "gif", "tif", "tiff", "tga", "bmp", "pgm", "ppm", "pnm", "pam",
    ]

    /// Plans the batch.
    /// - Throws: `CLIError` listing every problem when the batch must not start.
    static func make(
        input: String, output: String, recursive: Bool, format: OutputFormatChoice, suffix: String,
        shard: Shard?, selection: FileSelection = FileSelection()
    ) throws -> BatchPlan {
        if FileSystem.exists(output) && !FileSystem.isDirectory(output) {
            throw CLIError(
                "\(PathEncoding.displayed(output)): exists and is not a folder; give an output folder for a "
                    + "folder of inputs"
            )
        }
        let outputRoot = FileSystem.canonicalPath(output)
        let entries = try FileSystem.walk(input, recursive: recursive, excluding: [outputRoot]).filter { relative in
            let name = FileSystem.fileName(of: relative)
            return !name.hasPrefix(".") && imageExtensions.contains(extensionOf(name).lowercased())
                && selection.accepts(relative)
        }.sorted()
        var plan = BatchPlan()
        var sources: [(relative: String, path: String)] = []
        for relative in entries {
            let path = input + "/" + relative
            do {
                try FileSystem.requireRegularFile(path)
                sources.append((relative, path))
            } catch let error as FileError {
                plan.rejected.append((path, error.reason))
            }
        }
        let inputIdentities = Dictionary(
            sources.map { (FileSystem.canonicalPath($0.path), $0.path) }, uniquingKeysWith: { a, _ in a })
        var targets: [String: String] = [:]
        var problems: [String] = []
        for (relative, path) in sources {
            let base = String(relative.dropLast(extensionOf(relative).count + 1))
            let target =
                output + "/" + base + suffix + "." + format.fileExtension(forInputExtension: extensionOf(relative))
            let identity = FileSystem.canonicalPath(target)
            if !identity.hasPrefix(outputRoot == "/" ? "/" : outputRoot + "/") {
                problems.append(
                    "\(PathEncoding.displayed(path)): its output \(PathEncoding.displayed(target)) would lie "
                        + "outside the output folder"
                )
            } else if let other = inputIdentities[identity] {
                problems.append(
                    "\(PathEncoding.displayed(path)): its output would overwrite the input "
                        + "\(PathEncoding.displayed(other)); "
                        + "choose another output folder, --format or --suffix")
            } else if let earlier = targets[identity] {
                problems.append(
                    "\(PathEncoding.displayed(path)) and \(PathEncoding.displayed(earlier)) would both be written to "
                        + "\(PathEncoding.displayed(target)); use --suffix or --format same")
            } else if FileSystem.isDirectory(target) {
                problems.append("\(PathEncoding.displayed(target)): the output name is an existing folder")
            }
            targets[identity] = path
            plan.items.append(Item(source: path, relative: relative, target: target))
        }
        if !problems.isEmpty {
            throw CLIError(
                "the batch was not started, \(problems.count) output "
                    + "name\(problems.count == 1 ? " is" : "s are") unsafe:\n  "
                    + problems.joined(separator: "\n  "))
        }
        if let shard {
            plan.items = shard.select(plan.items)
            plan.rejected = shard.select(plan.rejected)
        }
        return plan
    }

    /// The extension of a file name, without the dot ("" when there is none).
    static func extensionOf(_ name: String) -> String {
        let file = FileSystem.fileName(of: name)
        guard let dot = file.lastIndex(of: "."), dot != file.startIndex else { return "" }
        return String(file[file.index(after: dot)...])
    }
}
