// The checks in Sources/Sessions/TimeChecks.swift, which every Date and TimeInterval a
// host hands in passes before UniFFI's converter (which would stop the process on a
// value it cannot encode).

import Foundation
import XCTest
@testable import Sessions

final class TimeCheckTests: XCTestCase {
    func testEncodableTimeIntervalsPassUnchanged() {
        for interval: TimeInterval in [0, -0.0, 1e-9, 0.5, 1, 3600, 30 * 86_400, 1e15, Double(Int64.max)] {
            XCTAssertEqual(sessionsEncodableTimeInterval(interval), interval, "\(interval)")
        }
    }

    func testTimeIntervalsTheConverterCannotEncodeBecomeZero() {
        let largest = Double(Int64.max) // 2^63 s: UniFFI's converter refuses anything larger
        XCTAssertEqual(sessionsLargestEncodableTimeInterval, largest)
        for interval: TimeInterval in [.nan, -.nan, .signalingNaN, -1, -1e-9, -.leastNonzeroMagnitude,
                                       -3600, -.greatestFiniteMagnitude, -.infinity,
                                       .infinity, .greatestFiniteMagnitude, 1e19, largest.nextUp] {
            XCTAssertEqual(sessionsEncodableTimeInterval(interval), 0, "\(interval)")
        }
    }

    func testDatesNearerThanTheLimitPassUnchanged() {
        let limit = sessionsFarthestHandedOnInterval
        for seconds: TimeInterval in [0, 1, -1, 0.5, -0.5, 1.7e9, 4_102_444_799.999999, -1e10, limit, -limit] {
            let date = Date(timeIntervalSince1970: seconds)
            XCTAssertEqual(sessionsEncodableDate(date), date, "\(seconds)")
        }
        for date in [Date.distantPast, Date.distantFuture, Date(timeIntervalSinceReferenceDate: 0)] {
            XCTAssertEqual(sessionsEncodableDate(date), date, "\(date)")
        }
    }

    func testFarDatesAreHandedOnAtTheLimitOnTheirSide() {
        let limit = sessionsFarthestHandedOnInterval
        XCTAssertEqual(limit, 1e11)
        for seconds: TimeInterval in [limit.nextUp, 1e12, 9.3e18, 1e300, .greatestFiniteMagnitude, .infinity] {
            XCTAssertEqual(sessionsEncodableDate(Date(timeIntervalSince1970: seconds)).timeIntervalSince1970,
                           limit, "\(seconds)")
            XCTAssertEqual(sessionsEncodableDate(Date(timeIntervalSince1970: -seconds)).timeIntervalSince1970,
                           -limit, "\(-seconds)")
        }
    }

    func testNaNDatesAreHandedOnFarInThePast() {
        XCTAssertEqual(sessionsNaNDate.timeIntervalSince1970, -1e10) // 1653
        for date in [Date(timeIntervalSinceReferenceDate: .nan), Date(timeIntervalSince1970: .nan),
                     Date(timeIntervalSinceReferenceDate: -.nan)] {
            XCTAssertEqual(sessionsEncodableDate(date), sessionsNaNDate)
        }
    }
}
