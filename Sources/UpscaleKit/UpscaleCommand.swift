import ArgumentParser
import Foundation
import SRFiles
import SRTensor

/// The `upscale` command line: upscaling is the default subcommand.
public struct UpscaleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "upscale",
        abstract: "GAN super-resolution upscaler for photos, scans and textures, on the CPU.",
        discussion: """
            Examples:
              upscale photo.jpg photo-x4.png --scale 4
              upscale photos/ bigger/ --scale 4 --recursive
              upscale eval --data ../shared/data/bench/Set5 --scale 4 --model psnr
              upscale train --data my-photos/ --output runs/mine
            """,
        version: "upscale \(UpscaleCommand.version)\n\(BLASKernels.summary)",
        subcommands: [UpscaleImages.self, Evaluate.self, Train.self, Degrade.self, ModelCommand.self],
        defaultSubcommand: UpscaleImages.self)

    /// The release this build belongs to.
    public static let version = "0.3.0"

    /// Process-wide set-up before any command runs: re-executes once with better OpenBLAS kernels
    /// when OpenBLAS's own CPU detection chose narrower ones (see `BLASKernels`).
    public static func prepareProcess() { BLASKernels.selectBestCore() }

    public init() {}

    /// The process's arguments, with file names that are not valid UTF-8 kept byte-exact.
    public static func commandLineArguments() -> [String] { PathEncoding.commandLineArguments() }
}

/// Prints a message on standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Runs a command's work; any error becomes one line on standard error and a non-zero exit.
func reportingFailure(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("error: \(error)")
        throw ExitCode.failure
    }
}

/// Whether standard error is a terminal (progress lines are drawn only then).
var standardErrorIsTerminal: Bool { isatty(2) != 0 }
