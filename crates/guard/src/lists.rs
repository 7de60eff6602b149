//! What the guard knows before it looks: shipped phishing and token lists, well-known contracts,
//! and the user's own address book, history, allow- and block-lists (in the node's store).

use crate::GuardError;
use agora_store::Store;
use alloy::primitives::{Address, address};
use serde::Deserialize;
use std::{collections::HashMap, path::Path, sync::Arc};

/// The eth-phishing-detect snapshot shipped with the guard (DBAD licence, see `data/`).
pub const PHISHING_SNAPSHOT: &str = include_str!("../data/eth-phishing-detect.json");

/// Contracts the guard knows by name on every chain (the canonical deterministic deployments).
pub const KNOWN_CONTRACTS: &[(Address, &str)] = &[
    (address!("0x000000000022D473030F116dDEE9F6B43aC78BA3"), "Uniswap Permit2"),
    (address!("0x0000000000000068F116a894984e2DB1123eB395"), "Seaport 1.6"),
    (address!("0x00000000000000ADc04C56Bf30aC9d3c0aAF14dC"), "Seaport 1.5"),
    (address!("0x1E0049783F008A0085193E00003D00cd54003c71"), "OpenSea conduit"),
    (address!("0x000000000000Ad05Ccc4F10045630fb830B95127"), "Blur Exchange"),
    (address!("0xcA11bde05977b3631167028862bE2a173976CA11"), "Multicall3"),
];

/// The canonical Permit2 address.
pub const PERMIT2: Address = address!("0x000000000022D473030F116dDEE9F6B43aC78BA3");

/// Addresses that destroy what they receive.
pub const BURN_ADDRESSES: &[Address] =
    &[Address::ZERO, address!("0x000000000000000000000000000000000000dEaD")];

/// The eth-phishing-detect configuration format.
#[derive(Debug, Clone, Deserialize)]
pub struct PhishingList {
    /// Format version.
    pub version: u32,
    /// Edit distance under which a domain imitates a fuzzylist entry.
    pub tolerance: usize,
    /// Domains that look-alikes imitate.
    pub fuzzylist: Vec<String>,
    /// Domains never flagged.
    pub whitelist: Vec<String>,
    /// Known phishing domains.
    pub blacklist: Vec<String>,
}

/// Why an origin is suspicious.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginMatch {
    /// The domain (or a parent) is on the blocklist.
    Blocked(String),
    /// The domain is within the edit distance of a well-known domain it is not.
    LooksLike(String),
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The host part of an origin (`https://app.example.org:443/x` → `app.example.org`).
pub fn host_of(origin: &str) -> String {
    let rest = origin.split("://").nth(1).unwrap_or(origin);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    host.split(':').next().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase()
}

impl PhishingList {
    /// Parses a list in the eth-phishing-detect format.
    pub fn parse(json: &str) -> Result<Self, GuardError> {
        serde_json::from_str(json).map_err(|source| GuardError::Data { what: "phishing list".into(), source })
    }

    /// Checks an origin: exact and parent-domain matches against the blocklist, then look-alikes
    /// of the fuzzylist (edit distance up to `tolerance`, as eth-phishing-detect does).
    pub fn check(&self, origin: &str) -> Option<OriginMatch> {
        let host = host_of(origin);
        if host.is_empty() {
            return None;
        }
        let parents: Vec<&str> =
            host.match_indices('.').map(|(i, _)| &host[i + 1..]).chain([host.as_str()]).collect();
        if parents.iter().any(|d| self.whitelist.iter().any(|w| w == d)) {
            return None;
        }
        if let Some(hit) = parents.iter().find(|d| self.blacklist.iter().any(|b| b == *d)) {
            return Some(OriginMatch::Blocked((*hit).to_owned()));
        }
        // Compare the registrable part (last two labels) with each fuzzylist entry.
        let labels: Vec<&str> = host.split('.').collect();
        let base = labels[labels.len().saturating_sub(2)..].join(".");
        for target in &self.fuzzylist {
            if base != *target
                && !host.ends_with(&format!(".{target}"))
                && levenshtein(&base, target) <= self.tolerance
            {
                return Some(OriginMatch::LooksLike(target.clone()));
            }
        }
        None
    }
}

/// One entry of a token list.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedToken {
    /// Chain id.
    pub chain_id: u64,
    /// Token address.
    pub address: Address,
    /// Name.
    pub name: String,
    /// Symbol.
    pub symbol: String,
    /// Decimals.
    pub decimals: u8,
}

/// A token list in the Uniswap token-list format.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenList {
    /// The tokens.
    pub tokens: Vec<ListedToken>,
}

impl TokenList {
    /// Parses a list in the token-list format.
    /// Entries that are not EVM tokens (other chains' address formats) are skipped.
    pub fn parse(json: &str) -> Result<Self, GuardError> {
        #[derive(Deserialize)]
        struct Raw {
            tokens: Vec<serde_json::Value>,
        }
        let raw: Raw = serde_json::from_str(json)
            .map_err(|source| GuardError::Data { what: "token list".into(), source })?;
        Ok(Self { tokens: raw.tokens.into_iter().filter_map(|t| serde_json::from_value(t).ok()).collect() })
    }

    /// The listed token at `address` on `chain_id`.
    pub fn get(&self, chain_id: u64, address: Address) -> Option<&ListedToken> {
        self.all().find(|t| t.chain_id == chain_id && t.address == address)
    }

    /// Whether the token at `address` calling itself `symbol` is a listed one: listed at that
    /// address on this chain, or at the same address with the same symbol on another (a fork of
    /// a listed chain runs under its own chain id).
    pub fn genuine(&self, chain_id: u64, address: Address, symbol: &str) -> bool {
        self.get(chain_id, address).is_some()
            || self.all().any(|t| t.address == address && skeleton(&t.symbol) == skeleton(symbol))
    }

    /// A listed token (on any chain, in this list or among the [`well_known_tokens`] every guard
    /// knows) whose symbol or name `symbol` or `name` imitates: equal once case, look-alike
    /// letters (Cyrillic, Greek, full-width), spaces, punctuation and invisible characters are
    /// set aside, so `UЅDC` (a Cyrillic Ѕ), `usdc`, `USDC ` and `$USDC` all imitate USDC.
    pub fn imitated(&self, symbol: &str, name: &str) -> Option<&ListedToken> {
        let (symbol, name) = (skeleton(symbol), skeleton(name));
        self.all().find(|t| {
            (!symbol.is_empty() && skeleton(&t.symbol) == symbol)
                || (!name.is_empty() && skeleton(&t.name) == name)
        })
    }

    fn all(&self) -> impl Iterator<Item = &ListedToken> {
        self.tokens.iter().chain(well_known_tokens())
    }
}

/// The tokens every guard knows without an installed list: the most imitated stablecoins and
/// blue chips on Ethereum and its largest rollups (addresses from the issuers' own pages).
const WELL_KNOWN_TOKENS: &[(u64, Address, &str, &str, u8)] = &[
    (1, address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), "USDC", "USD Coin", 6),
    (10, address!("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85"), "USDC", "USD Coin", 6),
    (137, address!("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"), "USDC", "USD Coin", 6),
    (8453, address!("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"), "USDC", "USD Coin", 6),
    (42161, address!("0xaf88d065e77c8cC2239327C5EDb3A432268e5831"), "USDC", "USD Coin", 6),
    (1, address!("0xdAC17F958D2ee523a2206206994597C13D831ec7"), "USDT", "Tether USD", 6),
    (10, address!("0x94b008aA00579c1307B0EF2c499aD98a8ce58e58"), "USDT", "Tether USD", 6),
    (137, address!("0xc2132D05D31c914a87C6611C10748AEb04B58e8F"), "USDT", "Tether USD", 6),
    (1, address!("0x6B175474E89094C44Da98b954EedeAC495271d0F"), "DAI", "Dai Stablecoin", 18),
    (10, address!("0xDA10009cBd5D07dd0CeCc66161FC93D7c9000da1"), "DAI", "Dai Stablecoin", 18),
    (42161, address!("0xDA10009cBd5D07dd0CeCc66161FC93D7c9000da1"), "DAI", "Dai Stablecoin", 18),
    (8453, address!("0x50c5725949A6F0c72E6C4a641F24049A917DB0Cb"), "DAI", "Dai Stablecoin", 18),
    (1, address!("0x6c3ea9036406852006290770BEdFcAbA0e23A0e8"), "PYUSD", "PayPal USD", 6),
    (1, address!("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"), "WETH", "Wrapped Ether", 18),
    (10, address!("0x4200000000000000000000000000000000000006"), "WETH", "Wrapped Ether", 18),
    (8453, address!("0x4200000000000000000000000000000000000006"), "WETH", "Wrapped Ether", 18),
    (42161, address!("0x82aF49447D8a07e3bd95BD0d56f35241523fBab1"), "WETH", "Wrapped Ether", 18),
    (1, address!("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"), "WBTC", "Wrapped BTC", 8),
    (1, address!("0xae7ab96520DE3A18E5e111B5EaAb095312D7fE84"), "stETH", "Liquid staked Ether 2.0", 18),
    (
        1,
        address!("0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0"),
        "wstETH",
        "Wrapped liquid staked Ether 2.0",
        18,
    ),
    (1, address!("0x514910771AF9Ca656af840dff83E8264EcF986CA"), "LINK", "ChainLink Token", 18),
    (1, address!("0x1f9840a85d5aF5bf1D1762F925BDADdC4201F984"), "UNI", "Uniswap", 18),
];

/// The built-in [`WELL_KNOWN_TOKENS`] as list entries.
pub fn well_known_tokens() -> &'static [ListedToken] {
    static TOKENS: std::sync::LazyLock<Vec<ListedToken>> = std::sync::LazyLock::new(|| {
        WELL_KNOWN_TOKENS
            .iter()
            .map(|(chain_id, address, symbol, name, decimals)| ListedToken {
                chain_id: *chain_id,
                address: *address,
                name: (*name).to_owned(),
                symbol: (*symbol).to_owned(),
                decimals: *decimals,
            })
            .collect()
    });
    &TOKENS
}

/// A token symbol or name reduced to what a reader sees: lower case, look-alike letters folded
/// to their Latin twins, everything but letters and digits dropped.
pub fn skeleton(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let c = match c {
                // Full-width forms (ＵＳＤＣ).
                '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
                // Cyrillic and Greek letters that look Latin, and the tugrik sign of USD₮.
                'а' | 'А' | 'α' | 'Α' => 'a',
                'в' | 'В' | 'β' | 'Β' => 'b',
                'с' | 'С' | 'ϲ' | 'Ϲ' => 'c',
                'ԁ' => 'd',
                'е' | 'Е' | 'ε' | 'Ε' => 'e',
                'н' | 'Н' | 'Η' => 'h',
                'і' | 'І' | 'ι' | 'Ι' | 'ӏ' => 'i',
                'ј' | 'Ј' => 'j',
                'к' | 'К' | 'κ' | 'Κ' => 'k',
                'м' | 'М' | 'Μ' => 'm',
                'Ν' => 'n',
                'о' | 'О' | 'ο' | 'Ο' | 'σ' => 'o',
                'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
                'ԛ' => 'q',
                'ѕ' | 'Ѕ' => 's',
                'т' | 'Т' | 'τ' | 'Τ' | '₮' => 't',
                'υ' | 'Υ' | 'у' | 'У' => 'y',
                'ν' => 'v',
                'ԝ' | 'ѡ' => 'w',
                'х' | 'Х' | 'χ' | 'Χ' => 'x',
                'Ζ' => 'z',
                other => other,
            };
            c.is_alphanumeric().then(|| c.to_lowercase()).map(|l| l.collect::<String>())
        })
        .collect()
}

/// Which user list an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// The address book: people and accounts the user sends to.
    Contact,
    /// Contracts, spenders, delegates and domains the user trusts.
    Allow,
    /// Addresses and domains the user never wants to deal with.
    Block,
}

impl ListKind {
    /// The name stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Allow => "allow",
            Self::Block => "block",
        }
    }
}

/// An entry of a user list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListEntry {
    /// A checksummed address or a lower-case domain.
    pub entry: String,
    /// The list.
    pub list: ListKind,
    /// The user's label.
    pub label: String,
}

/// The user's lists and history, read from the store for one analysis.
#[derive(Debug, Clone, Default)]
pub struct UserLists {
    entries: HashMap<String, Vec<(ListKind, String)>>,
    /// Addresses the user sent to before, with how many times.
    pub history: HashMap<Address, u64>,
}

impl UserLists {
    /// Reads the lists and history from the store.
    pub fn load(store: &Store) -> Result<Self, GuardError> {
        let rows = store
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT entry, list, label FROM guard_entries")?;
                let rows = stmt.query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })?;
                rows.collect::<agora_store::rusqlite::Result<Vec<_>>>()
            })
            .map_err(GuardError::from)?;
        let history = store
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT address, count FROM guard_history")?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                rows.collect::<agora_store::rusqlite::Result<Vec<_>>>()
            })
            .map_err(GuardError::from)?;
        let mut lists = Self::default();
        for (entry, list, label) in rows {
            let kind = match list.as_str() {
                "contact" => ListKind::Contact,
                "allow" => ListKind::Allow,
                _ => ListKind::Block,
            };
            lists.entries.entry(entry.to_ascii_lowercase()).or_default().push((kind, label));
        }
        for (address, count) in history {
            if let Ok(a) = address.parse() {
                lists.history.insert(a, count as u64);
            }
        }
        Ok(lists)
    }

    /// Whether an address or domain is on a list.
    pub fn on(&self, list: ListKind, entry: &str) -> bool {
        self.entries.get(&entry.to_ascii_lowercase()).is_some_and(|l| l.iter().any(|(k, _)| *k == list))
    }

    /// Whether `address` is on a list.
    pub fn has(&self, list: ListKind, address: Address) -> bool {
        self.on(list, &address.to_string())
    }

    /// The user's label for an address, if any.
    pub fn label(&self, address: Address) -> Option<&str> {
        self.entries
            .get(&address.to_string().to_ascii_lowercase())
            .and_then(|l| l.iter().map(|(_, label)| label.as_str()).find(|l| !l.is_empty()))
    }

    /// Every contact and every address the user sent to: the counterparties a look-alike imitates.
    pub fn counterparties(&self) -> Vec<Address> {
        let mut out: Vec<Address> = self
            .entries
            .iter()
            .filter(|(_, l)| l.iter().any(|(k, _)| *k == ListKind::Contact))
            .filter_map(|(e, _)| e.parse().ok())
            .collect();
        out.extend(self.history.keys().copied());
        out.sort();
        out.dedup();
        out
    }

    /// Adds an in-memory entry (for callers that do not use a store).
    pub fn insert(&mut self, list: ListKind, entry: &str, label: &str) {
        self.entries.entry(entry.to_ascii_lowercase()).or_default().push((list, label.to_owned()));
    }
}

/// Adds an address or domain to a user list (replacing its label).
pub fn add_entry(store: &Store, list: ListKind, entry: &str, label: &str) -> Result<(), GuardError> {
    let entry = normalize_entry(entry)?;
    store
        .write(|tx| {
            tx.execute(
                "INSERT INTO guard_entries (entry, list, label, added_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (entry, list) DO UPDATE SET label = excluded.label",
                agora_store::rusqlite::params![entry, list.as_str(), label, agora_store::now_ms()],
            )
        })
        .map_err(GuardError::from)?;
    Ok(())
}

/// Removes an entry from a list; says whether it was there.
pub fn remove_entry(store: &Store, list: ListKind, entry: &str) -> Result<bool, GuardError> {
    let entry = normalize_entry(entry)?;
    let n = store
        .write(|tx| {
            tx.execute(
                "DELETE FROM guard_entries WHERE entry = ?1 AND list = ?2",
                agora_store::rusqlite::params![entry, list.as_str()],
            )
        })
        .map_err(GuardError::from)?;
    Ok(n > 0)
}

/// Every entry of every list.
pub fn entries(store: &Store) -> Result<Vec<ListEntry>, GuardError> {
    store
        .read(|conn| {
            let mut stmt =
                conn.prepare("SELECT entry, list, label FROM guard_entries ORDER BY list, entry")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            rows.collect::<agora_store::rusqlite::Result<Vec<_>>>()
        })
        .map_err(GuardError::from)
        .map(|rows| {
            rows.into_iter()
                .map(|(entry, list, label)| ListEntry {
                    entry,
                    list: match list.as_str() {
                        "contact" => ListKind::Contact,
                        "allow" => ListKind::Allow,
                        _ => ListKind::Block,
                    },
                    label,
                })
                .collect()
        })
}

/// Records that the user sent to `addresses` (called after a checked request was forwarded).
pub fn record_history(store: &Store, addresses: &[Address]) -> Result<(), GuardError> {
    if addresses.is_empty() {
        return Ok(());
    }
    store
        .write(|tx| {
            for a in addresses {
                tx.execute(
                    "INSERT INTO guard_history (address, first_ms, last_ms, count) VALUES (?1, ?2, ?2, 1)
                     ON CONFLICT (address) DO UPDATE SET last_ms = excluded.last_ms, count = count + 1",
                    agora_store::rusqlite::params![a.to_checksum(None), agora_store::now_ms()],
                )?;
            }
            Ok(())
        })
        .map_err(GuardError::from)
}

fn normalize_entry(entry: &str) -> Result<String, GuardError> {
    let entry = entry.trim();
    if let Ok(address) = entry.parse::<Address>() {
        return Ok(address.to_checksum(None));
    }
    let host = host_of(entry);
    if host.is_empty() || !host.contains('.') || host.contains(char::is_whitespace) {
        return Err(crate::RequestError::new(format!("{entry:?} is neither an address nor a domain")).into());
    }
    Ok(host)
}

/// The shipped and installed data the guard reads: phishing list and token list.
#[derive(Debug, Clone)]
pub struct GuardData {
    /// Phishing domains.
    pub phishing: Arc<PhishingList>,
    /// Known tokens.
    pub tokens: Arc<TokenList>,
}

/// File names of installed lists inside the guard's data folder.
pub const PHISHING_FILE: &str = "phishing.json";
/// The installed token list.
pub const TOKENS_FILE: &str = "tokenlist.json";

impl GuardData {
    /// The shipped phishing snapshot and no token list.
    pub fn embedded() -> Result<Self, GuardError> {
        Ok(Self {
            phishing: Arc::new(PhishingList::parse(PHISHING_SNAPSHOT)?),
            tokens: Arc::new(TokenList::default()),
        })
    }

    /// Lists installed in `dir` (by `agora guard data update`), falling back to the shipped ones.
    pub fn load(dir: &Path) -> Result<Self, GuardError> {
        let mut data = Self::embedded()?;
        let phishing = dir.join(PHISHING_FILE);
        if phishing.exists() {
            let text = std::fs::read_to_string(&phishing)
                .map_err(|source| GuardError::Io { path: phishing.clone(), source })?;
            data.phishing = Arc::new(PhishingList::parse(&text)?);
        }
        let tokens = dir.join(TOKENS_FILE);
        if tokens.exists() {
            let text = std::fs::read_to_string(&tokens)
                .map_err(|source| GuardError::Io { path: tokens.clone(), source })?;
            data.tokens = Arc::new(TokenList::parse(&text)?);
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_phishing_list_blocks_exact_and_parent_domains_and_look_alikes() {
        let list = PhishingList::parse(PHISHING_SNAPSHOT).unwrap();
        assert!(list.blacklist.len() > 10_000);
        assert_eq!(
            list.check("https://nfts-mints.com/claim"),
            Some(OriginMatch::Blocked("nfts-mints.com".into()))
        );
        assert_eq!(
            list.check("https://app.nfts-mints.com"),
            Some(OriginMatch::Blocked("nfts-mints.com".into()))
        );
        assert_eq!(list.check("https://rnetamask.io"), Some(OriginMatch::LooksLike("metamask.io".into())));
        assert_eq!(list.check("https://metamask.io"), None);
        assert_eq!(list.check("https://portfolio.metamask.io"), None);
        assert_eq!(list.check("https://example.org"), None);
    }

    #[test]
    fn hosts_are_cut_out_of_origins() {
        assert_eq!(host_of("https://user@App.Example.org:8443/path?q"), "app.example.org");
        assert_eq!(host_of("example.org"), "example.org");
        assert_eq!(levenshtein("metamsk.io", "metamask.io"), 1);
    }

    #[test]
    fn look_alike_symbols_imitate_the_well_known_tokens_even_without_a_list() {
        let none = TokenList::default();
        for fake in ["USDC", "usdc", "UЅDC", "USDС", "ＵＳＤＣ", " USDC", "$USDC", "U.S.D.C", "USD\u{200b}C"]
        {
            let real = none.imitated(fake, "").unwrap_or_else(|| panic!("{fake:?}"));
            assert_eq!(real.symbol, "USDC", "{fake:?}");
        }
        assert_eq!(none.imitated("", "Tether  USD").map(|t| t.symbol.as_str()), Some("USDT"));
        assert_eq!(none.imitated("USD₮", "").map(|t| t.symbol.as_str()), Some("USDT"));
        assert!(none.imitated("MOCK", "Mock").is_none());
        assert!(none.imitated("USDC.e", "Bridged USDC").is_none(), "another symbol, not a copy");
        let usdc = address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
        assert!(none.genuine(1, usdc, "USDC"));
        assert!(none.genuine(31337, usdc, "USDC"), "a fork of mainnet keeps the real address");
        assert!(!none.genuine(31337, Address::with_last_byte(1), "USDC"));
    }

    #[test]
    fn the_shipped_token_list_parses() {
        let list = TokenList::parse(include_str!("../data/uniswap-default.tokenlist.json")).unwrap();
        assert!(list.tokens.len() > 1000);
        assert!(list.imitated("usdc", "").is_some());
    }
}
