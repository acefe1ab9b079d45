import Foundation
import Testing
@testable import Spec

/// Text a command keeps literally: warned about when it binds nothing, refused when it would
/// only make bash fail at run time.
struct LiteralTextTests {
    @Test func aSegmentWithoutAReferenceIsWarnedAboutWithItsPlace() throws {
        let fixture = try Fixture(["pipeline.yml": """
            type: pipeline
            jobs:
              a:
                command: python train.py --name $[[inputs.name]] $[[--fixed]]
            """])
        let plan = try fixture.load()
        let warnings = plan.warnings.filter { $0.contains("binds nothing") }
        #expect(warnings.count == 2, "\(plan.warnings)")
        #expect(warnings.first?.hasPrefix(fixture.path("pipeline.yml") + ":4:") == true, "\(warnings)")
        #expect(warnings.allSatisfy { $0.contains("jobs.a.command") }, "\(warnings)")
        #expect(warnings.first?.contains("$[[--name ${{inputs.name}}]]") == true, "\(warnings)")
        #expect(warnings.last?.contains("$[[--fixed]] holds no ${{ }} reference") == true, "\(warnings)")
    }

    @Test func aSegmentWithAReferenceIsNotWarnedAbout() throws {
        let plan = try Fixture.load("""
            type: pipeline
            jobs:
              a:
                component:
                  command: echo $[[--name ${{inputs.name}}]]
                  inputs: {name: {type: string, optional: true}}
            """)
        #expect(!plan.warnings.contains { $0.contains("binds nothing") }, "\(plan.warnings)")
    }

    @Test(arguments: [
        ("echo $[[--name ${{inputs.name}}", "$[[ that no ]] closes"),
        ("echo ${{inputs.name", "${{ that no }} closes"),
    ])
    func anUnclosedSegmentOrReferenceIsRefused(command: String, message: String) throws {
        let error = try #require(try Fixture.error("""
            type: pipeline
            jobs:
              a:
                command: \(command)
                inputs: {name: x}
            """))
        #expect(error.code == .invalidBinding)
        #expect(error.field == "jobs.a.command")
        #expect(error.message.contains(message), "\(error.message)")
    }
}
