//! What producers cost to run: batch work billed for its CPU time, or
//! stream producers that run the whole month.

use super::model::{Engine, Items, MONTH_HOURS};
use super::numbers::n;
use super::prices::{Instance, Prices};

/// Fargate tasks take at least 2 GB per vCPU.
const FARGATE_GB_PER_VCPU: f64 = 2.0;

/// What compute is priced with.
pub(crate) struct Costing<'a> {
    pub efficiency: f64,
    pub instance: (&'a str, &'a Instance),
    pub prices: &'a Prices,
}

/// Compute cost of `vcpu_hours` of producer work on the engine.
pub(crate) fn compute_cost(
    items: &mut Items,
    (key, what): (&str, &str),
    vcpu_hours: f64,
    (engine, spot): (Engine, bool),
    c: &Costing<'_>,
) -> f64 {
    let (efficiency, instance, prices) = (c.efficiency, c.instance, c.prices);
    let kind = if spot { "spot" } else { "on-demand" };
    match engine {
        Engine::Emr => {
            let (name, i) = instance;
            let hourly = if spot { i.spot_hour } else { i.on_demand_hour } + i.emr_hour;
            let hours = vcpu_hours / (i.vcpu * efficiency);
            items.add(
                key,
                &format!("{what}: EMR {name} {kind}"),
                hours * hourly,
                "USD",
                format!(
                    "{} vCPU-h / ({} vCPU x {} efficiency) = {} instance-h x (EC2 {} + EMR {}) USD/h",
                    n(vcpu_hours),
                    n(i.vcpu),
                    n(efficiency),
                    n(hours),
                    n(hourly - i.emr_hour),
                    n(i.emr_hour)
                ),
            )
        }
        Engine::Ecs => {
            let (vcpu_price, gb_price) = if spot {
                (prices.fargate_spot_vcpu_hour, prices.fargate_spot_gb_hour)
            } else {
                (prices.fargate_vcpu_hour, prices.fargate_gb_hour)
            };
            let task_vcpu_hours = vcpu_hours / efficiency;
            let gb_hours = task_vcpu_hours * FARGATE_GB_PER_VCPU;
            items.add(
                key,
                &format!("{what}: ECS Fargate {kind}"),
                task_vcpu_hours * vcpu_price + gb_hours * gb_price,
                "USD",
                format!(
                    "{} vCPU-h / {} efficiency = {} task vCPU-h x {} USD + {} GB-h ({} GB per vCPU) x {} USD",
                    n(vcpu_hours),
                    n(efficiency),
                    n(task_vcpu_hours),
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
    let kind = if spot { "spot" } else { "on-demand" };
    match engine {
        Engine::Emr => {
            let (name, i) = c.instance;
            let price = if spot { i.spot_hour } else { i.on_demand_hour };
            let count = (vcpus / i.vcpu).ceil().max(1.0);
            items.add(
                key,
                &format!("{what}: EMR {name} {kind}, always on"),
                count * MONTH_HOURS * (price + i.emr_hour),
                "USD",
                format!(
                    "ceil({} vCPU / {} vCPU) = {} instances x {} h x (EC2 {} + EMR {}) USD/h",
                    n(vcpus),
                    n(i.vcpu),
                    n(count),
                    n(MONTH_HOURS),
                    n(price),
                    n(i.emr_hour)
                ),
            )
        }
        Engine::Ecs => {
            let p = c.prices;
            let (vcpu_price, gb_price) = if spot {
                (p.fargate_spot_vcpu_hour, p.fargate_spot_gb_hour)
            } else {
                (p.fargate_vcpu_hour, p.fargate_gb_hour)
            };
            let tasks = vcpus.ceil().max(1.0);
            items.add(
                key,
                &format!("{what}: ECS Fargate {kind}, always on"),
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
