//! The world's fixed vocabulary: countries, categories, loyalty tiers,
//! payment types, page kinds and devices. Order is part of the data
//! contract: generators draw indexes into these lists.

pub struct Country {
    pub code: &'static str,
    pub currency: &'static str,
    pub timezone: &'static str,
    /// Share of users and stores.
    pub share: f64,
    pub cities: &'static [&'static str],
}

pub const COUNTRIES: [Country; 10] = [
    Country {
        code: "US",
        currency: "USD",
        timezone: "America/New_York",
        share: 0.34,
        cities: &[
            "New York",
            "Los Angeles",
            "Chicago",
            "Houston",
            "Phoenix",
            "Seattle",
        ],
    },
    Country {
        code: "GB",
        currency: "GBP",
        timezone: "Europe/London",
        share: 0.10,
        cities: &["London", "Manchester", "Birmingham", "Leeds", "Glasgow"],
    },
    Country {
        code: "DE",
        currency: "EUR",
        timezone: "Europe/Berlin",
        share: 0.10,
        cities: &["Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt"],
    },
    Country {
        code: "FR",
        currency: "EUR",
        timezone: "Europe/Paris",
        share: 0.08,
        cities: &["Paris", "Lyon", "Marseille", "Toulouse", "Nice"],
    },
    Country {
        code: "ES",
        currency: "EUR",
        timezone: "Europe/Madrid",
        share: 0.05,
        cities: &["Madrid", "Barcelona", "Valencia", "Seville"],
    },
    Country {
        code: "JP",
        currency: "JPY",
        timezone: "Asia/Tokyo",
        share: 0.08,
        cities: &["Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo"],
    },
    Country {
        code: "BR",
        currency: "BRL",
        timezone: "America/Sao_Paulo",
        share: 0.08,
        cities: &["Sao Paulo", "Rio de Janeiro", "Brasilia", "Salvador"],
    },
    Country {
        code: "CA",
        currency: "CAD",
        timezone: "America/Toronto",
        share: 0.06,
        cities: &["Toronto", "Montreal", "Vancouver", "Calgary"],
    },
    Country {
        code: "AU",
        currency: "AUD",
        timezone: "Australia/Sydney",
        share: 0.04,
        cities: &["Sydney", "Melbourne", "Brisbane", "Perth"],
    },
    Country {
        code: "IN",
        currency: "INR",
        timezone: "Asia/Kolkata",
        share: 0.07,
        cities: &["Mumbai", "Delhi", "Bangalore", "Chennai"],
    },
];

pub(crate) const CATEGORY_NAMES: [&str; 40] = [
    "electronics",
    "phones",
    "laptops",
    "audio",
    "cameras",
    "gaming",
    "books",
    "music",
    "movies",
    "toys",
    "baby",
    "kitchen",
    "furniture",
    "bedding",
    "garden",
    "tools",
    "lighting",
    "home-decor",
    "appliances",
    "grocery",
    "beverages",
    "beauty",
    "health",
    "pets",
    "sports",
    "outdoor",
    "cycling",
    "fitness",
    "shoes",
    "womens-fashion",
    "mens-fashion",
    "kids-fashion",
    "jewelry",
    "watches",
    "bags",
    "office",
    "stationery",
    "crafts",
    "automotive",
    "travel",
];

pub const LOYALTY_TIERS: [&str; 5] = ["none", "bronze", "silver", "gold", "platinum"];
pub const LOYALTY_WEIGHTS: [f64; 5] = [0.45, 0.25, 0.17, 0.09, 0.04];
pub const PAYMENT_TYPES: [&str; 5] = ["card", "cash", "mobile_wallet", "bnpl", "gift_card"];
pub(crate) const STORE_SUFFIXES: [&str; 6] =
    ["Central", "Mall", "Station", "Plaza", "Outlet", "Market"];

/// Kinds of pages a session walks through, in funnel order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    Home,
    Category,
    Product,
    Cart,
    Checkout,
    Confirmation,
}

impl PageKind {
    pub const ALL: [PageKind; 6] = [
        PageKind::Home,
        PageKind::Category,
        PageKind::Product,
        PageKind::Cart,
        PageKind::Checkout,
        PageKind::Confirmation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PageKind::Home => "home",
            PageKind::Category => "category",
            PageKind::Product => "product",
            PageKind::Cart => "cart",
            PageKind::Checkout => "checkout",
            PageKind::Confirmation => "confirmation",
        }
    }

    pub fn from_name(name: &str) -> Option<PageKind> {
        PageKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind of a page path (`/`, `/c/...`, `/p/...`, `/cart`, ...).
    pub fn of_path(path: &str) -> PageKind {
        match path {
            "/" => PageKind::Home,
            "/cart" => PageKind::Cart,
            "/checkout" => PageKind::Checkout,
            "/checkout/confirmation" => PageKind::Confirmation,
            p if p.starts_with("/c/") => PageKind::Category,
            _ => PageKind::Product,
        }
    }
}

/// Devices a user browses with; clicks v2 and users carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Desktop,
    MobileWeb,
    IosApp,
    AndroidApp,
}

impl Device {
    pub const ALL: [Device; 4] = [
        Device::Desktop,
        Device::MobileWeb,
        Device::IosApp,
        Device::AndroidApp,
    ];
    /// Share of users preferring each device, in `ALL` order.
    pub const WEIGHTS: [f64; 4] = [0.38, 0.32, 0.16, 0.14];

    pub fn name(self) -> &'static str {
        match self {
            Device::Desktop => "desktop",
            Device::MobileWeb => "mobile_web",
            Device::IosApp => "ios_app",
            Device::AndroidApp => "android_app",
        }
    }

    pub fn is_app(self) -> bool {
        matches!(self, Device::IosApp | Device::AndroidApp)
    }
}

/// Operating systems, in dictionary order.
pub const OS_NAMES: [&str; 5] = ["Windows", "macOS", "Linux", "iOS", "Android"];
/// App versions, in dictionary order.
pub const APP_VERSIONS: [&str; 4] = ["5.2.0", "5.3.1", "5.4.0", "6.0.2"];

/// Operating system (index into `OS_NAMES`) of a device, from a per-session
/// random word: desktops run Windows, macOS or Linux; mobile web iOS or
/// Android; apps their platform's OS.
pub fn os_of(device: Device, detail: u32) -> i32 {
    match device {
        Device::Desktop => [0, 0, 0, 1, 1, 2][(detail % 6) as usize],
        Device::MobileWeb => 3 + (detail % 2) as i32,
        Device::IosApp => 3,
        Device::AndroidApp => 4,
    }
}

/// English first and last names (vendored from the `fake` crate; see
/// `producer/gen/data/README.md`).
pub(crate) fn first_names() -> impl Iterator<Item = &'static str> {
    include_str!("../../data/first_names.txt").lines()
}

pub(crate) fn last_names() -> impl Iterator<Item = &'static str> {
    include_str!("../../data/last_names.txt").lines()
}
