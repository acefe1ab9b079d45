import Foundation
import Testing
@testable import Spec

/// YAML 1.1 typing of plain scalars and Python `str()` rendering, checked against PyYAML 6 `safe_load`.
struct ScalarResolutionTests {
    /// (plain scalar text, kind PyYAML gives it, Python `str()` of the value), produced with PyYAML 6.0.
    static let pyyamlTable: [(String, String, String)] = [
        ("yes", "boolean", "True"),
        ("Yes", "boolean", "True"),
        ("YES", "boolean", "True"),
        ("no", "boolean", "False"),
        ("No", "boolean", "False"),
        ("NO", "boolean", "False"),
        ("true", "boolean", "True"),
        ("True", "boolean", "True"),
        ("TRUE", "boolean", "True"),
        ("false", "boolean", "False"),
        ("False", "boolean", "False"),
        ("FALSE", "boolean", "False"),
        ("on", "boolean", "True"),
        ("On", "boolean", "True"),
        ("ON", "boolean", "True"),
        ("off", "boolean", "False"),
        ("Off", "boolean", "False"),
        ("OFF", "boolean", "False"),
        ("y", "string", "y"),
        ("n", "string", "n"),
        ("Y", "string", "Y"),
        ("N", "string", "N"),
        ("~", "null", "None"),
        ("null", "null", "None"),
        ("Null", "null", "None"),
        ("NULL", "null", "None"),
        ("", "null", "None"),
        ("0", "integer", "0"),
        ("1", "integer", "1"),
        ("-1", "integer", "-1"),
        ("+7", "integer", "7"),
        ("012", "integer", "10"),
        ("0o12", "string", "0o12"),
        ("09", "string", "09"),
        ("08", "string", "08"),
        ("0x1F", "integer", "31"),
        ("0b101", "integer", "5"),
        ("-0b11", "integer", "-3"),
        ("1_000", "integer", "1000"),
        ("1:30", "integer", "90"),
        ("-1:30:15", "integer", "-5415"),
        ("190:20:30", "integer", "685230"),
        ("1e-3", "string", "1e-3"),
        ("1E3", "string", "1E3"),
        ("1.0e-5", "number", "1e-05"),
        ("1.0e+16", "number", "1e+16"),
        ("1.0e+15", "number", "1000000000000000.0"),
        ("1.0e15", "string", "1.0e15"),
        ("1.", "number", "1.0"),
        ("1.e+5", "number", "100000.0"),
        (".5", "number", "0.5"),
        (".5e-3", "number", "0.0005"),
        ("+.5", "string", "+.5"),
        ("-1.5", "number", "-1.5"),
        ("0.001", "number", "0.001"),
        ("1024.0", "number", "1024.0"),
        ("1.8", "number", "1.8"),
        ("20", "integer", "20"),
        ("0.25", "number", "0.25"),
        ("1_000.5", "number", "1000.5"),
        ("190:20:30.15", "number", "685230.15"),
        (".inf", "number", "inf"),
        ("-.inf", "number", "-inf"),
        ("+.Inf", "number", "inf"),
        (".NaN", "number", "nan"),
        (".nan", "number", "nan"),
        ("-.nan", "string", "-.nan"),
        ("1e+16", "string", "1e+16"),
        ("123456789.123456789", "number", "123456789.12345679"),
        ("0.1", "number", "0.1"),
        ("3.14159265358979", "number", "3.14159265358979"),
        ("1e-05", "string", "1e-05"),
        ("0.0001", "number", "0.0001"),
        ("0.00001", "number", "1e-05"),
        ("100000000000000000.0", "number", "1e+17"),
        ("2022-07-10", "date", "2022-07-10"),
        ("2001-12-14t21:59:43.10-05:00", "date", "2001-12-14 21:59:43.100000-05:00"),
        ("2001-12-14 21:59:43.10", "date", "2001-12-14 21:59:43.100000"),
        ("2001-12-15T02:59:43.1Z", "date", "2001-12-15 02:59:43.100000+00:00"),
        ("2001-12-14 21:59:43 +5", "date", "2001-12-14 21:59:43+05:00"),
        ("hello", "string", "hello"),
        ("1.2.3", "string", "1.2.3"),
        ("0.5.1", "string", "0.5.1"),
        (":x", "string", ":x"),
        ("1_2_3", "integer", "123"),
        ("_1", "string", "_1"),
        ("0_", "integer", "0"),
        ("12e3", "string", "12e3"),
        ("1.0E+3", "number", "1000.0"),
        ("-0", "integer", "0"),
        ("-0.0", "number", "-0.0"),
        ("0.0", "number", "0.0"),
        ("00", "integer", "0"),
        ("007", "integer", "7"),
        ("2.5e-7", "number", "2.5e-07"),
        ("123456789012345678.0", "number", "1.2345678901234568e+17"),
        ("5e-324", "string", "5e-324"),
    ]

    @Test(arguments: pyyamlTable)
    func plainScalarMatchesPyYAML(_ text: String, _ kind: String, _ rendered: String) throws {
        let value = try ScalarResolver.resolve(plain: text)
        #expect(value.kindName == kind, "\(text)")
        #expect(value.pythonString == rendered, "\(text)")
    }

    /// (IEEE-754 bit pattern, Python `repr`).
    static let reprTable: [(UInt64, String)] = [
        (0x0000000000000001, "5e-324"),
        (0x0010000000000000, "2.2250738585072014e-308"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0x3fd3333333333334, "0.30000000000000004"),
        (0x3fd5555555555555, "0.3333333333333333"),
        (0x4340000000000000, "9007199254740992.0"),
        (0x4340000000000001, "9007199254740994.0"),
        (0x4480f0cf064dd592, "1e+22"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x419d6f3454000000, "123456789.0"),
        (0x4341c37937e07fff, "9999999999999998.0"),
        (0x4341c37937e07fff, "9999999999999998.0"),
        (0x3f201f31f46ed246, "0.000123"),
        (0x3f202e85aa468b90, "0.00012345678"),
        (0xbefa36e2eb1c432d, "-2.5e-05"),
        (0x54b249ad2594c37d, "1e+100"),
        (0xbdda0e026f1655b2, "-9.478653606090632e-11"),
        (0x41f1fcf3c3aae656, "4828642362.681234"),
        (0x3e6f49c7013e9583, "5.827880059033551e-08"),
        (0xb9e5ca4b5d602fcf, "-8.594723368917168e-30"),
        (0xba67d5882ca5e5d2, "-2.4066300012702502e-27"),
        (0x3a5060a36c1f4083, "8.26852124672038e-28"),
        (0x46068a978c4422cc, "2.2323896460701455e+29"),
        (0x4121de8ad864521e, "585541.4226403867"),
        (0x3c557b8322365776, "4.658268061775628e-18"),
        (0x3d5d7e89aac18806, "4.191390435714652e-13"),
        (0x4112d4074be160a3, "308481.8241019344"),
        (0x3ae67fe397d6a7a6, "5.816001636624662e-25"),
        (0x3e44ec4d749872a2, "9.743057599473336e-09"),
        (0x40ed1a25705d0656, "59601.16996623266"),
        (0xc01b374bb4a89a16, "-6.803999731817859"),
        (0xc3c5cc5fef67838d, "-3.141471703767915e+18"),
        (0x3e6017f75b131c4b, "2.997669968636823e-08"),
        (0x42d1bb34b3f1be18, "77982963058424.38"),
        (0xc11253647964063f, "-300249.1185456253"),
        (0xc53c6961723d0e26, "-3.434756899583733e+25"),
        (0x3d656d03e59e09c1, "6.089590190364036e-13"),
        (0x3b18c16be66e159e, "5.119328306475491e-24"),
        (0xc392fce7c60e12a3, "-3.4205580615985786e+17"),
        (0x3ed071d8e01b9fb2, "3.9207257047437666e-06"),
        (0xc39efabbc2caa714, "-5.580757526533747e+17"),
        (0xbe07e3e1f9ea4a6b, "-6.952953662736593e-10"),
        (0x415e6625f0869c2a, "7968919.758215943"),
        (0xc47fb62898ed1e20, "-9.35959960869036e+21"),
        (0x3fe64e2b2aa81784, "0.6970420678269282"),
        (0xba4cf6d6287df86a, "-7.311593346408905e-28"),
    ]

    @Test(arguments: reprTable)
    func floatReprMatchesPython(_ bits: UInt64, _ expected: String) {
        #expect(PythonFloatFormat.repr(Double(bitPattern: bits)) == expected)
    }

    /// The rendering table of the grammar reference, section 1.8.
    @Test(arguments: [
        ("False", "False"), ("true", "True"), ("20", "20"), ("1.8", "1.8"), ("0.001", "0.001"),
        ("1024.0", "1024.0"), ("1.0e-5", "1e-05"), ("1.0e+15", "1000000000000000.0"), ("1.0e+16", "1e+16"),
        ("1e-3", "1e-3"), ("1.0e15", "1.0e15"),
    ])
    func groupedRenderingTable(_ text: String, _ expected: String) throws {
        #expect(try ScalarResolver.resolve(plain: text).pythonString == expected)
    }

    @Test func invalidDatesAreRefusedLikePyYAML() {
        #expect(throws: ScalarResolver.Failure.self) { try ScalarResolver.resolve(plain: "2022-13-45") }
        #expect(throws: ScalarResolver.Failure.self) { try ScalarResolver.resolve(plain: "2023-02-29") }
        #expect((try? ScalarResolver.resolve(plain: "2024-02-29")) == .timestamp("2024-02-29"))
    }

    @Test func pythonFloatParsingAcceptsWhatFloatAccepts() {
        #expect(PythonFloatFormat.parseFloat("1e-3") == 0.001)
        #expect(PythonFloatFormat.parseFloat(" 2 ") == 2)
        #expect(PythonFloatFormat.parseFloat("1_0.5") == 10.5)
        #expect(PythonFloatFormat.parseFloat("-Infinity") == -.infinity)
        #expect(PythonFloatFormat.parseFloat("abc") == nil)
        #expect(PythonFloatFormat.parseFloat("1__0") == nil)
        #expect(PythonFloatFormat.parseFloat("0x10") == nil)
        #expect(PythonFloatFormat.parseFloat(".") == nil)
    }
}
