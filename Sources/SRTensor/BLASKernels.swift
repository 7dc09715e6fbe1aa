import CBLAS
import CKernels
import Foundation

/// What the processor can run, from cpuid (with the operating system's support for the registers).
public struct CPUFeatures: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let sse3 = CPUFeatures(rawValue: SR_CPU_SSE3)
    public static let avx = CPUFeatures(rawValue: SR_CPU_AVX)
    public static let fma = CPUFeatures(rawValue: SR_CPU_FMA)
    public static let avx2 = CPUFeatures(rawValue: SR_CPU_AVX2)
    public static let avx512f = CPUFeatures(rawValue: SR_CPU_AVX512F)
    public static let avx512dq = CPUFeatures(rawValue: SR_CPU_AVX512DQ)
    public static let avx512bw = CPUFeatures(rawValue: SR_CPU_AVX512BW)
    public static let avx512vl = CPUFeatures(rawValue: SR_CPU_AVX512VL)
    public static let avx512bf16 = CPUFeatures(rawValue: SR_CPU_AVX512BF16)
    public static let amx = CPUFeatures(rawValue: SR_CPU_AMX)
    public static let intel = CPUFeatures(rawValue: SR_CPU_INTEL)
    public static let amd = CPUFeatures(rawValue: SR_CPU_AMD)

    /// The skylake-class AVX-512 subset OpenBLAS's SkylakeX kernels need.
    public static let avx512: CPUFeatures = [.avx512f, .avx512dq, .avx512bw, .avx512vl]

    /// This machine's features.
    public static var current: CPUFeatures { CPUFeatures(rawValue: sr_cpu_features()) }

    public var description: String {
        let names: [(CPUFeatures, String)] = [
            (.intel, "Intel"), (.amd, "AMD"), (.sse3, "SSE3"), (.avx, "AVX"), (.fma, "FMA"), (.avx2, "AVX2"),
            (.avx512f, "AVX512F"), (.avx512bw, "AVX512BW"), (.avx512bf16, "AVX512-BF16"), (.amx, "AMX"),
        ]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: " ")
    }
}

/// Which OpenBLAS kernels run, and choosing better ones when OpenBLAS's own detection falls short.
///
/// OpenBLAS picks its kernels from the CPU model when the library loads. Builds older than the CPU
/// do not know it: Debian 12's OpenBLAS 0.3.21 takes an Intel Xeon of family 6, model 207 (AVX-512,
/// AMX) for a "Prescott" and runs SSE3 kernels, 3.5× slower than its SkylakeX kernels on the same
/// machine. The library reads `OPENBLAS_CORETYPE` only while loading, so the fix is to compare its
/// choice with cpuid's features first thing in `main`, and when they disagree, set the variable and
/// re-execute the program once.
public enum BLASKernels {
    /// The core OpenBLAS runs ("Haswell", "Zen", "SkylakeX", "Prescott", …).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build description (version, threading, dynamic architecture).
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text).trimmingCharacters(in: .whitespaces)
    }

    /// How wide a core's kernels are: 0 SSE, 1 AVX, 2 AVX2 + FMA, 3 AVX-512.
    public static func vectorLevel(ofCore name: String) -> Int {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 3
        case "haswell", "zen", "excavator": return 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller": return 1
        default: return 0
        }
    }

    /// The best OpenBLAS core for a processor with `features`, or nil when SSE kernels are all it runs.
    public static func bestCore(for features: CPUFeatures) -> String? {
        if features.isSuperset(of: CPUFeatures.avx512) { return "SkylakeX" }
        if features.isSuperset(of: [.avx2, .fma]) { return features.contains(.amd) ? "Zen" : "Haswell" }
        if features.contains(.avx) { return "Sandybridge" }
        return nil
    }

    /// The core to force instead of `current`, or nil when `current` already uses the widest
    /// vectors the processor has (never a downgrade).
    public static func replacement(for current: String, features: CPUFeatures) -> String? {
        guard let best = bestCore(for: features), vectorLevel(ofCore: best) > vectorLevel(ofCore: current) else {
            return nil
        }
        return best
    }

    static let markerVariable = "UPSCALE_BLAS_CORE_CHOSEN"

    /// Call first thing in `main`: when OpenBLAS chose narrower kernels than the processor runs, and
    /// the user has not set `OPENBLAS_CORETYPE`, re-executes this program once with the better core.
    public static func selectBestCore() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[markerVariable] == nil,
            let core = replacement(for: coreName, features: .current)
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(markerVariable, coreName, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when execv fails: carry on with the kernels already loaded.
        unsetenv("OPENBLAS_CORETYPE")
    }

    /// One line for `--version` and the benchmark: which kernels run, on what.
    public static var summary: String {
        var family: Int32 = 0, model: Int32 = 0
        sr_cpu_family_model(&family, &model)
        var line = "OpenBLAS core \(coreName)"
        if let original = ProcessInfo.processInfo.environment[markerVariable] {
            line += " (chosen by upscale; OpenBLAS detected \(original))"
        } else if let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] {
            line += " (OPENBLAS_CORETYPE=\(forced))"
        }
        return line + "; CPU family \(family) model \(model): \(CPUFeatures.current)"
    }
}
