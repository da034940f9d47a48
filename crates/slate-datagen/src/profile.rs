//! The shape of the synthetic data: boroughs, grade and channel mixes, daily and weekly cycles,
//! and the log-normal timings of each step. Figures are plausible for a large UK force, not
//! taken from any one service.

/// The 32 London boroughs with relative call volumes (inner boroughs busier).
pub const BOROUGHS: [(&str, f64); 32] = [
    ("Westminster", 3.2),
    ("Lambeth", 2.1),
    ("Southwark", 2.0),
    ("Newham", 1.9),
    ("Tower Hamlets", 1.9),
    ("Croydon", 1.8),
    ("Hackney", 1.7),
    ("Camden", 1.7),
    ("Brent", 1.6),
    ("Ealing", 1.5),
    ("Haringey", 1.5),
    ("Lewisham", 1.5),
    ("Islington", 1.4),
    ("Barnet", 1.4),
    ("Enfield", 1.3),
    ("Wandsworth", 1.3),
    ("Greenwich", 1.3),
    ("Hillingdon", 1.2),
    ("Waltham Forest", 1.2),
    ("Hounslow", 1.1),
    ("Redbridge", 1.0),
    ("Barking and Dagenham", 1.0),
    ("Hammersmith and Fulham", 1.0),
    ("Bromley", 1.0),
    ("Havering", 0.9),
    ("Bexley", 0.8),
    ("Harrow", 0.8),
    ("Kensington and Chelsea", 0.8),
    ("Merton", 0.7),
    ("Sutton", 0.6),
    ("Kingston upon Thames", 0.6),
    ("Richmond upon Thames", 0.6),
];

/// Response grades and their shares: Immediate, Significant, Extended, Referred.
pub const GRADES: [(&str, f64); 4] = [("I", 0.18), ("S", 0.27), ("E", 0.35), ("R", 0.20)];

/// Channels.
pub const CHANNELS: [&str; 4] = ["999", "101", "online", "other"];

/// Channel shares by grade (rows follow `GRADES`, columns follow `CHANNELS`).
pub const CHANNEL_BY_GRADE: [[f64; 4]; 4] = [
    [0.85, 0.10, 0.00, 0.05],
    [0.50, 0.40, 0.05, 0.05],
    [0.15, 0.60, 0.20, 0.05],
    [0.05, 0.55, 0.35, 0.05],
];

/// Relative volume by local hour: quiet before dawn, busiest in the early evening.
pub const HOURLY: [f64; 24] = [
    3.0, 2.4, 2.0, 1.6, 1.3, 1.2, 1.5, 2.2, 3.0, 3.6, 3.9, 4.1, 4.3, 4.4, 4.5, 4.7, 5.0, 5.2, 5.3,
    5.2, 4.9, 4.5, 4.0, 3.5,
];

/// Relative volume by weekday, Monday first: Fridays and Saturdays busiest.
pub const WEEKDAY: [f64; 7] = [0.96, 0.95, 0.97, 1.0, 1.1, 1.12, 0.98];

/// A log-normal delay: median seconds and the sigma of its logarithm.
#[derive(Debug, Clone, Copy)]
pub struct Delay {
    /// Median in seconds.
    pub median_s: f64,
    /// Sigma of ln(delay).
    pub sigma: f64,
}

const fn d(median_s: f64, sigma: f64) -> Delay {
    Delay { median_s, sigma }
}

/// Ring-to-answer by channel (online contacts have no call to answer).
pub const ANSWER: [Option<Delay>; 4] = [
    Some(d(4.0, 0.75)),
    Some(d(14.0, 0.95)),
    None,
    Some(d(20.0, 0.9)),
];
/// Handling time (answer to end of the call) by channel, for `slate gen --call-queue`.
pub const HANDLING: [Option<Delay>; 4] = [
    Some(d(180.0, 0.5)),
    Some(d(300.0, 0.6)),
    None,
    Some(d(240.0, 0.6)),
];

/// Mean caller patience (seconds, exponential) by channel, for `slate gen --call-queue`.
pub const PATIENCE_S: [f64; 4] = [60.0, 180.0, 1.0, 120.0];

/// Answer (or receipt) to incident record created.
pub const CREATE: Delay = d(75.0, 0.6);
/// Created to first dispatch, by grade (`None`: Referred incidents are rarely dispatched).
pub const DISPATCH: [Delay; 4] = [
    d(45.0, 0.7),
    d(420.0, 0.8),
    d(5400.0, 0.9),
    d(43_200.0, 0.8),
];
/// Dispatch to arrival, by grade.
pub const TRAVEL: [Delay; 4] = [
    d(390.0, 0.42),
    d(1300.0, 0.65),
    d(3600.0, 0.8),
    d(7200.0, 0.8),
];
/// Arrival (or creation) to close.
pub const CLOSE: Delay = d(3600.0, 0.9);
/// Share of Referred incidents that get a dispatch at all.
pub const REFERRED_DISPATCHED: f64 = 0.1;
/// Share cancelled before attendance, by grade.
pub const CANCELLED: [f64; 4] = [0.02, 0.05, 0.08, 0.0];
/// Share of answerable calls with no answer time recorded (abandoned or lost).
pub const ANSWER_MISSING: f64 = 0.01;
/// Share of attended incidents with no arrival recorded.
pub const ARRIVAL_MISSING: f64 = 0.01;

/// The wider promises (`--promises`): who gets which follow-up, and how long it takes.
pub mod promises {
    use super::{Delay, d};

    /// Share of Extended (E) incidents handled by an appointment.
    pub const APPOINTMENT_SHARE_E: f64 = 0.6;
    /// Call to agreed appointment time: most within two days, about 7% later.
    pub const APPOINTMENT_LEAD: Delay = d(26.0 * 3600.0, 0.45);
    /// Agreeing the time, after the call is answered.
    pub const APPOINTMENT_AGREE: Delay = d(600.0, 0.6);
    /// Attendance around the agreed time: normal with this mean and spread (seconds) ...
    pub const APPOINTMENT_EARLY_MEAN_S: f64 = -300.0;
    /// ... and spread.
    pub const APPOINTMENT_SPREAD_S: f64 = 900.0;
    /// Share of appointments attended late by a log-normal delay instead.
    pub const APPOINTMENT_LATE_SHARE: f64 = 0.08;
    /// That delay.
    pub const APPOINTMENT_LATE: Delay = d(3600.0, 0.8);
    /// Share of appointments never attended (no `arrived`).
    pub const APPOINTMENT_MISSED: f64 = 0.03;

    /// Share of online and other-channel contacts, and of Referred (R) incidents, that are a
    /// message about a local issue needing a reply.
    pub const CALLBACK_SHARE: f64 = 0.4;
    /// Message to reply: median 6 h, about 8% over a day.
    pub const CALLBACK: Delay = d(6.0 * 3600.0, 1.0);
    /// Share of messages never answered.
    pub const CALLBACK_MISSING: f64 = 0.03;

    /// Share of incidents followed by a report of dissatisfaction.
    pub const COMPLAINT_SHARE: f64 = 0.01;
    /// Close of the incident to the report.
    pub const COMPLAINT_AFTER: Delay = d(3.0 * 86_400.0, 1.0);
    /// Report to acknowledgement, in office time (moved to the next working morning).
    pub const COMPLAINT_ACK: Delay = d(20.0 * 3600.0, 0.9);

    /// Share of Immediate and Significant incidents that are road-traffic collisions.
    pub const COLLISION_SHARE: f64 = 0.05;
    /// Report to the Traffic Criminal Justice Unit's contact (moved to a working day).
    pub const COLLISION_CONTACT: Delay = d(6.0 * 86_400.0, 0.6);

    /// Share of attended incidents whose caller answers the satisfaction survey.
    pub const SURVEY_SHARE: f64 = 0.05;
    /// Survey answered this long after the incident closed (uniform, days).
    pub const SURVEY_DAYS: (u32, u32) = (42, 84);
    /// Respondent groups, their shares, and the chance each is satisfied (a gap like the one
    /// the 2008 Promise's equality assessment describes).
    pub const GROUPS: [(&str, f64, f64); 3] = [
        ("White", 0.62, 0.82),
        ("Black and minority ethnic", 0.30, 0.75),
        ("Not stated", 0.08, 0.78),
    ];
    /// Less satisfied when attendance took longer than an hour.
    pub const SLOW_PENALTY: f64 = 0.10;
    /// Share of survey answers with no overall satisfaction given.
    pub const SURVEY_NO_ANSWER: f64 = 0.02;
}
