//! What this instance knows of each station's health, so that a dead station costs nothing: a
//! station whose last attempt failed (no answer, refused connection, timeout) is *down*, and a
//! new receipt's deliveries to it are left to the outbox's retries instead of being attempted at
//! once; the retry worker probes it with one delivery a round until one gets an answer. Attempts
//! started at once are also capped per station, so that a station that accepts connections and
//! never answers cannot pile up connections or tasks before its first timeout.
//!
//! The state is per instance and only an optimisation: the outbox in the store stays the truth.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::FiscalCodePA;
use crate::domain::broadcast::BroadcastStation;

/// A station, as routing names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StationKey {
    organization: FiscalCodePA,
    station_id: String,
}

impl StationKey {
    pub fn of(station: &BroadcastStation) -> StationKey {
        StationKey {
            organization: station.organization.clone(),
            station_id: station.station_id.to_string(),
        }
    }
}

struct Health {
    down: bool,
    in_flight: Arc<Semaphore>,
}

/// The health of every station this instance has tried; cheap to clone.
#[derive(Clone)]
pub struct StationHealth {
    stations: Arc<Mutex<HashMap<StationKey, Health>>>,
    max_in_flight: usize,
}

impl StationHealth {
    /// At most `max_in_flight` attempts started at once per station.
    pub fn new(max_in_flight: usize) -> StationHealth {
        StationHealth {
            stations: Arc::default(),
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// Leave to take for an attempt started at once: none while the station is down or has
    /// `max_in_flight` attempts running already. Dropping the permit ends the attempt.
    pub fn try_start(&self, station: &StationKey) -> Option<OwnedSemaphorePermit> {
        let mut stations = self.stations.lock().expect("station health");
        let health = self.entry(&mut stations, station);
        if health.down {
            return None;
        }
        health.in_flight.clone().try_acquire_owned().ok()
    }

    pub fn is_down(&self, station: &StationKey) -> bool {
        let stations = self.stations.lock().expect("station health");
        stations.get(station).is_some_and(|h| h.down)
    }

    /// Records whether an attempt got an answer (OK or a well-formed KO) from the station.
    /// Returns true when this changed the station's state.
    pub fn record(&self, station: &StationKey, answered: bool) -> bool {
        let mut stations = self.stations.lock().expect("station health");
        let health = self.entry(&mut stations, station);
        let changed = health.down == answered;
        health.down = !answered;
        changed
    }

    fn entry<'a>(
        &self,
        stations: &'a mut HashMap<StationKey, Health>,
        station: &StationKey,
    ) -> &'a mut Health {
        stations.entry(station.clone()).or_insert_with(|| Health {
            down: false,
            in_flight: Arc::new(Semaphore::new(self.max_in_flight)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> StationKey {
        StationKey {
            organization: FiscalCodePA::parse("77777777777").unwrap(),
            station_id: id.to_owned(),
        }
    }

    #[test]
    fn a_failure_takes_a_station_down_until_an_answer() {
        let health = StationHealth::new(4);
        let s = key("S");
        assert!(health.try_start(&s).is_some());
        assert!(health.record(&s, false));
        assert!(health.is_down(&s));
        assert!(health.try_start(&s).is_none());
        assert!(!health.is_down(&key("OTHER")));
        assert!(!health.record(&s, false));
        assert!(health.record(&s, true));
        assert!(health.try_start(&s).is_some());
    }

    #[test]
    fn attempts_at_once_are_capped_per_station() {
        let health = StationHealth::new(2);
        let s = key("S");
        let a = health.try_start(&s).unwrap();
        let _b = health.try_start(&s).unwrap();
        assert!(health.try_start(&s).is_none());
        assert!(health.try_start(&key("T")).is_some());
        drop(a);
        assert!(health.try_start(&s).is_some());
    }
}
