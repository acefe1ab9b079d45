#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Protocol

/// NVIDIA's management library, loaded at run time: one `conduit` binary runs on machines with
/// and without NVIDIA drivers, so nothing links against `libnvidia-ml` at build time.
enum NVML {
    /// The library's soname, installed by the NVIDIA driver.
    static let libraryName = "libnvidia-ml.so.1"

    // The C functions used, as declared in nvml.h. Every one returns an `nvmlReturn_t`
    // (a C enum, 0 = NVML_SUCCESS); `nvmlDevice_t` is an opaque pointer.
    typealias InitFunction = @convention(c) () -> Int32
    typealias ShutdownFunction = @convention(c) () -> Int32
    typealias CountFunction = @convention(c) (UnsafeMutablePointer<UInt32>) -> Int32
    typealias HandleFunction = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>) -> Int32
    typealias StringFunction = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>, UInt32) -> Int32
    /// `nvmlDeviceGetMemoryInfo`: fills an `nvmlMemory_t`, three `unsigned long long`s (total, free, used).
    typealias MemoryFunction = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>) -> Int32
    typealias ComputeCapabilityFunction = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32

    static let success: Int32 = 0
    /// Large enough for a name or UUID (NVML asks for 96 bytes at most).
    static let stringBufferSize = 256

    /// The devices NVML reports, in NVML index order; nil when the library is absent or fails
    /// (no driver, no permission), so the caller can try `nvidia-smi`.
    static func devices() -> [GPUDevice]? {
        guard let library = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL) else { return nil }
        defer { dlclose(library) }
        guard let initialize = symbol(library, "nvmlInit_v2", as: InitFunction.self),
              let shutdown = symbol(library, "nvmlShutdown", as: ShutdownFunction.self),
              let count = symbol(library, "nvmlDeviceGetCount_v2", as: CountFunction.self),
              let handle = symbol(library, "nvmlDeviceGetHandleByIndex_v2", as: HandleFunction.self),
              let name = symbol(library, "nvmlDeviceGetName", as: StringFunction.self),
              let uuid = symbol(library, "nvmlDeviceGetUUID", as: StringFunction.self),
              let memory = symbol(library, "nvmlDeviceGetMemoryInfo", as: MemoryFunction.self)
        else { return nil }
        // Old drivers lack it; the capability is then unknown.
        let computeCapability = symbol(library, "nvmlDeviceGetCudaComputeCapability", as: ComputeCapabilityFunction.self)

        guard initialize() == success else { return nil }
        defer { _ = shutdown() }
        var deviceCount: UInt32 = 0
        guard count(&deviceCount) == success else { return nil }
        var devices: [GPUDevice] = []
        for index in 0..<deviceCount {
            var device: OpaquePointer?
            guard handle(index, &device) == success else { return nil }
            guard let deviceName = string(device, name), let deviceUUID = string(device, uuid) else { return nil }
            var info: [UInt64] = [0, 0, 0]
            guard memory(device, &info) == success else { return nil }
            var capability = ""
            if let computeCapability {
                var major: Int32 = 0
                var minor: Int32 = 0
                if computeCapability(device, &major, &minor) == success { capability = "\(major).\(minor)" }
            }
            devices.append(GPUDevice(
                index: Int(index), uuid: deviceUUID, name: deviceName,
                memoryBytes: Int64(clamping: info[0]), freeMemoryBytes: Int64(clamping: info[1]),
                computeCapability: capability
            ))
        }
        return devices
    }

    private static func symbol<Function>(_ library: UnsafeMutableRawPointer, _ name: String, as type: Function.Type) -> Function? {
        guard let address = dlsym(library, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }

    private static func string(_ device: OpaquePointer?, _ function: StringFunction) -> String? {
        var buffer = [CChar](repeating: 0, count: stringBufferSize)
        guard function(device, &buffer, UInt32(stringBufferSize - 1)) == success else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
