@testable import Coordinator
import Testing

/// The line `conduit explain` adds when a step's registered component version differs.
@Suite struct ComponentChangeTests {
    @Test func aMovedVersionIsNamedBothWays() {
        #expect(ComponentChange.describe(earlier: "azureml:train:1", current: "azureml:train:2") == "component: azureml:train:1 → azureml:train:2")
        #expect(ComponentChange.describe(earlier: nil, current: "azureml:train:2") == "component: a component file → azureml:train:2")
        #expect(ComponentChange.describe(earlier: "azureml:train:2", current: nil) == "component: azureml:train:2 → a component file")
    }

    @Test func theSameComponentSaysNothing() {
        #expect(ComponentChange.describe(earlier: "azureml:train:2", current: "azureml:train:2") == nil)
        #expect(ComponentChange.describe(earlier: nil, current: nil) == nil)
    }
}
