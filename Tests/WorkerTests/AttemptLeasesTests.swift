import Testing
import Worker

@Suite struct AttemptLeasesTests {
    @Test func aLeaseExpiresUnlessRenewedAndRenewalNeverGoesBack() {
        var leases = AttemptLeases(timeoutMilliseconds: 8000)
        leases.grant("a", now: 0)
        leases.grant("b", now: 0)
        #expect(leases.expired(now: 7999).isEmpty)
        leases.renew(["a"], now: 5000)
        leases.renew(["a"], now: 1000)  // an older echo does not shorten it
        #expect(leases.expired(now: 8000) == ["b"])
        #expect(leases.isCurrent("a", now: 12_999))
        #expect(!leases.isCurrent("a", now: 13_000))
        leases.renew(["unknown"], now: 9000)
        #expect(leases.renewedAt["unknown"] == nil, "renewal does not create leases")
        leases.release("b")
        #expect(leases.expired(now: 20_000) == ["a"])
        leases.setTimeout(100_000)
        #expect(leases.expired(now: 20_000).isEmpty)
    }
}
