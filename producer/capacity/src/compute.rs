//! What producers cost to run: batch work billed for its CPU time, or
//! stream producers that run the whole month.

use crate::input::{Engine, MONTH_HOURS};
use crate::items::Items;
use crate::numbers::n;
use crate::prices::{Instance, Prices};

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

/// What the producers do: batch work billed for its CPU time, or producers
/// on `vcpus` that run the whole month.
#[derive(Clone, Copy)]
pub(crate) enum Work {
    Batch { vcpu_hours: f64 },
    AlwaysOn { vcpus: f64 },
}

/// Compute cost of the producers' work on the engine: EMR instance-hours,
/// or 1-vCPU Fargate task-hours.
pub(crate) fn compute_cost(
    items: &mut Items,
    (key, what): (&str, &str),
    work: Work,
    (engine, spot): (Engine, bool),
    c: &Costing<'_>,
) -> f64 {
    let always = if matches!(work, Work::AlwaysOn { .. }) {
        ", always on"
    } else {
        ""
    };
    match engine {
        Engine::Emr => {
            let (name, i) = c.instance;
            let (ec2, emr) = c.instance_hour(spot);
            let per_instance = i.vcpu * c.efficiency;
            let (hours, how) = match work {
                Work::Batch { vcpu_hours } => (
                    vcpu_hours / per_instance,
                    format!(
                        "{} vCPU-h / ({} vCPU x {} efficiency)",
                        n(vcpu_hours),
                        n(i.vcpu),
                        n(c.efficiency)
                    ),
                ),
                Work::AlwaysOn { vcpus } => {
                    let count = (vcpus / per_instance).ceil().max(1.0);
                    (
                        count * MONTH_HOURS,
                        format!(
                            "ceil({} vCPU / ({} vCPU x {} efficiency)) = {} instances x {} h",
                            n(vcpus),
                            n(i.vcpu),
                            n(c.efficiency),
                            n(count),
                            n(MONTH_HOURS)
                        ),
                    )
                }
            };
            items.add(
                key,
                &format!("{what}: EMR {name} {}{always}", kind(spot)),
                hours * (ec2 + emr),
                "USD",
                format!(
                    "{how} = {} instance-h x (EC2 {} + EMR {}) USD/h",
                    n(hours),
                    n(ec2),
                    n(emr)
                ),
            )
        }
        Engine::Ecs => {
            let (vcpu_price, gb_price) = c.fargate_hour(spot);
            let (task_hours, how, tasks) = match work {
                // One worker thread per 1-vCPU task: task-hours are vCPU-hours.
                Work::Batch { vcpu_hours } => (vcpu_hours, String::new(), ", 1-vCPU tasks"),
                Work::AlwaysOn { vcpus } => {
                    let tasks = vcpus.ceil().max(1.0);
                    (
                        tasks * MONTH_HOURS,
                        format!(
                            "ceil({} vCPU) = {} tasks of 1 vCPU x {} h = ",
                            n(vcpus),
                            n(tasks),
                            n(MONTH_HOURS)
                        ),
                        "",
                    )
                }
            };
            let gb_hours = task_hours * FARGATE_GB_PER_VCPU;
            items.add(
                key,
                &format!("{what}: ECS Fargate {}{tasks}{always}", kind(spot)),
                task_hours * vcpu_price + gb_hours * gb_price,
                "USD",
                format!(
                    "{how}{} task-h x {} USD + {} GB-h ({} GB per vCPU) x {} USD",
                    n(task_hours),
                    n(vcpu_price),
                    n(gb_hours),
                    n(FARGATE_GB_PER_VCPU),
                    n(gb_price)
                ),
            )
        }
    }
}
