import Foundation

/// What this machine offers: cores and memory.
enum SystemResources {
    static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }
    static var memoryBytes: Int64 { Int64(ProcessInfo.processInfo.physicalMemory) }
    static var hostname: String { ProcessInfo.processInfo.hostName }
}
