//! What producers cost to run: batch work billed for its CPU time, or
//! stream producers that run the whole month.

use super::model::{Engine, Items, MONTH_HOURS};
use super::numbers::n;
use super::prices::{Instance, Prices};

/// Fargate tasks take at least 2 GB per vCPU.
const FARGATE_GB_PER_VCPU: f64 = 2.0;

/// What compute is priced with.
pub(crate) struct Costing<'a> {
    /// Of a process on every vCPU of an instance; a 1-vCPU Fargate task
    /// runs one worker thread and loses nothing to it.
    pub efficiency: f64,
    pub instance: (&'a str, &'a Instance),
    pub prices: &'a Prices,
}

impl Costing<'_> {
    /// EC2 and EMR per instance-hour.
    fn instance_hour(&self, spot: bool) -> (f64, f64) {
        let i = self.instance.1;
        (
            if spot { i.spot_hour } else { i.on_demand_hour },
            i.emr_hour,
        )
    }

    /// Fargate per vCPU-hour and per GB-hour.
    fn fargate_hour(&self, spot: bool) -> (f64, f64) {
        let p = self.prices;
        if spot {
            (p.fargate_spot_vcpu_hour, p.fargate_spot_gb_hour)
        } else {
            (p.fargate_vcpu_hour, p.fargate_gb_hour)
        }
    }
}

fn kind(spot: bool) -> &'static str {
    if spot { "spot" } else { "on-demand" }
}

/// Compute cost of `vcpu_hours` of producer work on the engine.
pub(crate) fn compute_cost(
    items: &mut Items,
    (key, what): (&str, &str),
    vcpu_hours: f64,
    (engine, spot): (Engine, bool),
    c: &Costing<'_>,
) -> f64 {
    match engine {
        Engine::Emr => {
            let (name, i) = c.instance;
            let (ec2, emr) = c.instance_hour(spot);
            let hours = vcpu_hours / (i.vcpu * c.efficiency);
            items.add(
                key,
                &format!("{what}: EMR {name} {}", kind(spot)),
                hours * (ec2 + emr),
                "USD",
                format!(
                    "{} vCPU-h / ({} vCPU x {} efficiency) = {} instance-h x (EC2 {} + EMR {}) USD/h",
                    n(vcpu_hours),
                    n(i.vcpu),
                    n(c.efficiency),
                    n(hours),
                    n(ec2),
                    n(emr)
                ),
            )
        }
        Engine::Ecs => {
            let (vcpu_price, gb_price) = c.fargate_hour(spot);
            let gb_hours = vcpu_hours * FARGATE_GB_PER_VCPU;
            items.add(
                key,
                &format!("{what}: ECS Fargate {}, 1-vCPU tasks", kind(spot)),
                vcpu_hours * vcpu_price + gb_hours * gb_price,
                "USD",
                format!(
                    "{} vCPU-h x {} USD + {} GB-h ({} GB per vCPU) x {} USD",
                    n(vcpu_hours),
                    n(vcpu_price),
                    n(gb_hours),
                    n(FARGATE_GB_PER_VCPU),
                    n(gb_price)
                ),
            )
        }
    }
}

/// Compute cost of producers that run the whole month on `vcpus`.
pub(crate) fn always_on_cost(
    items: &mut Items,
    (key, what): (&str, &str),
    vcpus: f64,
    (engine, spot): (Engine, bool),
    c: &Costing<'_>,
) -> f64 {
    match engine {
        Engine::Emr => {
            let (name, i) = c.instance;
            let (ec2, emr) = c.instance_hour(spot);
            let count = (vcpus / (i.vcpu * c.efficiency)).ceil().max(1.0);
            items.add(
                key,
                &format!("{what}: EMR {name} {}, always on", kind(spot)),
                count * MONTH_HOURS * (ec2 + emr),
                "USD",
                format!(
                    "ceil({} vCPU / ({} vCPU x {} efficiency)) = {} instances x {} h x (EC2 {} + EMR {}) USD/h",
                    n(vcpus),
                    n(i.vcpu),
                    n(c.efficiency),
                    n(count),
                    n(MONTH_HOURS),
                    n(ec2),
                    n(emr)
                ),
            )
        }
        Engine::Ecs => {
            let (vcpu_price, gb_price) = c.fargate_hour(spot);
            let tasks = vcpus.ceil().max(1.0);
            items.add(
                key,
                &format!("{what}: ECS Fargate {}, always on", kind(spot)),
                tasks * MONTH_HOURS * (vcpu_price + FARGATE_GB_PER_VCPU * gb_price),
                "USD",
                format!(
                    "ceil({} vCPU) = {} tasks of 1 vCPU x {} h x ({} + {} GB x {}) USD/h",
                    n(vcpus),
                    n(tasks),
                    n(MONTH_HOURS),
                    n(vcpu_price),
                    n(FARGATE_GB_PER_VCPU),
                    n(gb_price)
                ),
            )
        }
    }
}
