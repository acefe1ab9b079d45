import Protocol

extension WorkerService {
    /// What this worker offers, as sent at hello: the detected resources (or, without them,
    /// cores and memory read now), its slots and labels, and the free disk in its work directory now.
    func currentCapabilities() -> WorkerCapabilities {
        let resources = configuration.resources ?? CapabilityDetector.hostResources()
        return resources.capabilities(
            slots: configuration.slots, labels: configuration.labels,
            diskFreeBytes: DiskSpace.freeBytes(at: configuration.workDirectory) ?? 0
        )
    }
}
