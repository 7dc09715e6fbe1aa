import CBLAS

/// The one facade over BLAS: every matrix multiply in the program goes through here, and this is
/// where OpenBLAS's thread count is owned.
public enum GEMM {
    /// Sets how many threads OpenBLAS may use for one multiply.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// C[M×N] = alpha · op(A) · op(B) + beta · C, all row-major.
    /// op(A) is M×K (A is K×M when `transposeA`), op(B) is K×N (B is N×K when `transposeB`).
    @inlinable
    public static func multiply(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
