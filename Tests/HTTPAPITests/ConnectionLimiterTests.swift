import Testing

@testable import HTTPAPI

/// The connection limiter's decisions, driven directly: no sockets, instants chosen by the test.
struct ConnectionLimiterTests {
    let start = ContinuousClock.now

    func settings(total: Int, perAddress: Int) throws -> HTTPServerSettings {
        try HTTPServerSettings(maximumConnections: total, maximumConnectionsPerAddress: perAddress)
    }

    @Test func eachAddressGetsItsShareAndTheTotalIsCapped() throws {
        var limiter = ConnectionLimiter(settings: try settings(total: 5, perAddress: 3))
        for _ in 0..<3 { #expect(limiter.on(.opened(address: "10.0.0.1", at: start)) == [.admit]) }
        let refused = limiter.on(.opened(address: "10.0.0.1", at: start))
        #expect(refused.first == .refuse)
        #expect(limiter.on(.opened(address: "10.0.0.2", at: start)) == [.admit])
        #expect(limiter.on(.opened(address: "10.0.0.3", at: start)) == [.admit])
        let overTotal = limiter.on(.opened(address: "10.0.0.4", at: start))
        #expect(overTotal.first == .refuse)
        #expect(limiter.openConnections == 5)

        // A closed connection frees its slot, for its address and in all.
        _ = limiter.on(.closed(address: "10.0.0.1"))
        #expect(limiter.openConnections(from: "10.0.0.1") == 2)
        #expect(limiter.on(.opened(address: "10.0.0.4", at: start)) == [.admit])
        // A close for an address with nothing open changes nothing.
        _ = limiter.on(.closed(address: "10.9.9.9"))
        #expect(limiter.openConnections == 5)
    }

    @Test func refusalsAreReportedOncePerAddressPerInterval() throws {
        var limiter = ConnectionLimiter(settings: try settings(total: 100, perAddress: 1))
        _ = limiter.on(.opened(address: "a", at: start))
        _ = limiter.on(.opened(address: "b", at: start))
        let first = limiter.on(.opened(address: "a", at: start))
        #expect(first == [.refuse, .report(.init(limit: .perAddress, address: "a", count: 1, openFromAddress: 1, openInAll: 2))])
        // Within the minute: refused silently; another address still gets its own line.
        for second in 1...59 { #expect(limiter.on(.opened(address: "a", at: start + .seconds(second))) == [.refuse]) }
        #expect(limiter.on(.opened(address: "b", at: start + .seconds(30))).count == 2)
        // After it: one line counting every refusal since the last.
        let later = limiter.on(.opened(address: "a", at: start + .seconds(60)))
        #expect(later == [.refuse, .report(.init(limit: .perAddress, address: "a", count: 60, openFromAddress: 1, openInAll: 2))])
    }

    @Test func totalLimitRefusalsFromManyAddressesMakeOneLine() throws {
        var limiter = ConnectionLimiter(settings: try settings(total: 2, perAddress: 2))
        _ = limiter.on(.opened(address: "a", at: start))
        _ = limiter.on(.opened(address: "b", at: start))
        var reports = 0
        for index in 0..<1000 {
            let actions = limiter.on(.opened(address: "10.1.\(index / 256).\(index % 256)", at: start + .milliseconds(index)))
            #expect(actions.first == .refuse)
            reports += actions.count - 1
        }
        #expect(reports == 1)
        #expect(limiter.reports.count <= 3, "refusals by the total limit do not grow a table per address")
    }

    @Test func settingsFitTheDescriptorLimit() throws {
        let standard = HTTPServerSettings.standard
        #expect(standard.maximumConnections == 512 && standard.maximumConnectionsPerAddress == 64)
        // A raised limit leaves the settings alone.
        let raised = standard.fitted(toDescriptorLimit: 1 << 20)
        #expect(!raised.lowered && raised.settings == standard)
        // The common default of 1024: half reserved, two descriptors a connection.
        let fitted = standard.fitted(toDescriptorLimit: 1024)
        #expect(fitted.lowered && fitted.settings.maximumConnections == 256)
        let tiny = standard.fitted(toDescriptorLimit: 300)
        #expect(tiny.settings.maximumConnections == 22 && tiny.settings.maximumConnectionsPerAddress == 22)
        #expect(standard.fitted(toDescriptorLimit: 100).settings.maximumConnections == 1)
        for limit in [64, 256, 1024, 4096, 65536] {
            let settings = standard.fitted(toDescriptorLimit: limit).settings
            #expect(settings.maximumConnections * 2 <= max(2, limit - HTTPServerSettings.reservedDescriptors(limit: limit)))
        }
    }

    @Test func settingsOutOfRangeAreRefused() {
        #expect(throws: HTTPAccessError.self) { try HTTPServerSettings(requestHeadTimeout: .zero) }
        #expect(throws: HTTPAccessError.self) { try HTTPServerSettings(idleTimeout: .seconds(-1)) }
        #expect(throws: HTTPAccessError.self) { try HTTPServerSettings(maximumConnections: 0) }
        let error = #expect(throws: HTTPAccessError.self) { try HTTPServerSettings(maximumConnectionsPerAddress: 0) }
        #expect(error?.code == .invalidSettings)
        #expect(error?.message.contains("--http-max-connections-per-address") == true)
    }
}
