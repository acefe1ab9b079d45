/// The Python distribution (the name `pip` and `importlib.metadata` know) a conda file's entry
/// stands for, so that an interpreter can be asked whether it holds it.
///
/// The rule (also in `docs/environments.md`):
/// - a pip requirement names its distribution: `scikit-learn==1.5.0` → `scikit-learn`,
///   `mlflow[extras]>=2` → `mlflow`, `pkg @ https://…` → `pkg`; a bare path or URL
///   (`./pkg`, `git+https://…`) names none and is not checked;
/// - a conda package has the same name, except the known renames (`pytorch` → `torch`,
///   `pytables` → `tables`, `msgpack-python` → `msgpack`, `py-NAME` → `NAME`); conda packages that
///   are not Python distributions (`python`, `pip`, `cudatoolkit`, `cuda-*`, `cudnn`, `nccl`, `mkl`,
///   compilers, MPI, `r-*`, …) are not checked.
public enum DistributionNames {
    /// Conda packages that install no Python distribution.
    static let notPython: Set<String> = [
        "python", "pip", "setuptools-scm-git-archive", "cudatoolkit", "cudnn", "nccl", "mkl", "mkl-include", "intel-openmp",
        "openmpi", "mpich", "openblas", "libblas", "liblapack", "libgcc-ng", "libstdcxx-ng", "libgomp", "gcc", "gxx",
        "gcc_linux-64", "gxx_linux-64", "c-compiler", "cxx-compiler", "compilers", "cmake", "make", "ninja", "git",
        "ffmpeg", "nodejs", "r-base", "cuda", "pytorch-cuda", "pytorch-mutex", "blas", "ca-certificates", "openssl",
        "tzdata", "zlib", "xz", "bzip2", "sqlite", "readline", "ncurses", "tk", "wheel-cli",
    ]
    /// Conda packages whose Python distribution has another name.
    static let condaRenames: [String: String] = [
        "pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch", "pytables": "tables",
        "msgpack-python": "msgpack", "tensorflow-gpu": "tensorflow", "matplotlib-base": "matplotlib",
    ]

    /// The distribution a pip requirement installs, as written; nil for a path or URL.
    public static func ofPipRequirement(_ requirement: String) -> String? {
        let text = requirement.trimmingCharacters(in: .whitespaces)
        guard let first = text.first, first.isLetter || first.isNumber else { return nil }
        if text.contains("://") && !text.contains("@") { return nil }
        let stops: Set<Character> = ["=", "<", ">", "!", "~", ";", "[", " ", "@", "(", ","]
        let name = String(text.prefix { !stops.contains($0) })
        guard !name.isEmpty, !name.contains("/"), !name.contains(":") else { return nil }
        return name
    }

    /// The distribution a conda package (`numpy=1.26`, `conda-forge::pytorch`) installs; nil for
    /// one that installs none.
    public static func ofCondaPackage(_ package: String) -> String? {
        var text = Substring(package.trimmingCharacters(in: .whitespaces))
        if let channel = text.range(of: "::") { text = text[channel.upperBound...] }
        let name = String(text.prefix { !"=<>!~ [".contains($0) }).lowercased()
        guard !name.isEmpty, !notPython.contains(name), !name.hasPrefix("cuda-"), !name.hasPrefix("r-") else { return nil }
        if let renamed = condaRenames[name] { return renamed }
        if name.hasPrefix("py-"), name.count > 3 { return String(name.dropFirst(3)) }
        return name
    }
}
