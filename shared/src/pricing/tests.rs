use super::*;

fn price(input: Option<f64>, output: Option<f64>) -> Option<Pricing> {
    Some(Pricing { input_cost_per_token: input, output_cost_per_token: output })
}

fn level(profile: Option<&str>, overrides: Option<Pricing>) -> Level<'_> {
    Level { profile, overrides }
}

fn none() -> Level<'static> {
    Level::default()
}

/// Each half as (price, where it came from).
type Shown = (Option<(f64, String)>, Option<(f64, String)>);

fn shown(effective: &Effective) -> Shown {
    let half = |r: &Option<Resolved>| r.as_ref().map(|r| (r.cost_per_token, r.source.to_string()));
    (half(&effective.input), half(&effective.output))
}

#[test]
fn model_beats_provider_beats_upstream_beats_global_and_overrides_beat_their_profile() {
    let profiles = catalogue(&[]);
    let p = |s: &str| s.to_owned();
    #[rustfmt::skip]
    let cases: Vec<(&str, Inputs<'_>, Shown)> = vec![
        ("nothing set: LiteLLM's own prices apply",
         Inputs { model: none(), provider: none(), upstream: None, global: none(), local: false },
         (None, None)),
        ("the global profile",
         Inputs { model: none(), provider: none(), upstream: None, global: level(Some("gpt-4o"), None), local: false },
         (Some((5e-6, p("the global default profile gpt-4o"))), Some((1.5e-5, p("the global default profile gpt-4o"))))),
        ("the upstream's price beats the global default",
         Inputs { model: none(), provider: none(), upstream: price(Some(1e-6), None), global: level(Some("gpt-4o"), None), local: false },
         (Some((1e-6, p("the upstream's declared price"))), Some((1.5e-5, p("the global default profile gpt-4o"))))),
        ("a provider profile beats the upstream",
         Inputs { model: none(), provider: level(Some("gpt-4o-mini"), None), upstream: price(Some(1e-6), Some(2e-6)), global: none(), local: false },
         (Some((1.5e-7, p("the provider's profile gpt-4o-mini"))), Some((6e-7, p("the provider's profile gpt-4o-mini"))))),
        ("a level's override keys go on top of its own profile",
         Inputs { model: none(), provider: level(Some("gpt-4o-mini"), price(None, Some(9e-7))), upstream: None, global: none(), local: false },
         (Some((1.5e-7, p("the provider's profile gpt-4o-mini"))), Some((9e-7, p("the provider's price"))))),
        ("the model's override beats the provider's profile, key by key",
         Inputs { model: level(None, price(Some(2e-6), None)), provider: level(Some("gpt-4.1"), None), upstream: None, global: none(), local: false },
         (Some((2e-6, p("the model's own price"))), Some((6e-5, p("the provider's profile gpt-4.1"))))),
        ("the model's profile beats the provider's override",
         Inputs { model: level(Some("o1-mini"), None), provider: level(None, price(Some(1e-9), Some(1e-9))), upstream: None, global: none(), local: false },
         (Some((1e-5, p("the model's profile o1-mini"))), Some((4e-5, p("the model's profile o1-mini"))))),
        ("local Ollama models are free, whatever the global default",
         Inputs { model: none(), provider: none(), upstream: None, global: level(Some("gpt-4o"), None), local: true },
         (Some((0.0, p("a local Ollama model (free)"))), Some((0.0, p("a local Ollama model (free)"))))),
        ("…unless their provider prices them (Ollama Cloud)",
         Inputs { model: none(), provider: level(Some("gpt-4o"), None), upstream: None, global: none(), local: true },
         (Some((5e-6, p("the provider's profile gpt-4o"))), Some((1.5e-5, p("the provider's profile gpt-4o"))))),
    ];
    for (what, inputs, want) in cases {
        assert_eq!(shown(&effective(&inputs, &profiles)), want, "{what}");
    }
}

#[test]
fn unknown_profiles_are_named_and_ignored() {
    let inputs = Inputs {
        model: level(Some("gpt-5-imaginary"), None),
        provider: none(),
        upstream: None,
        global: level(Some("gpt-4o"), None),
        local: false,
    };
    let result = effective(&inputs, &catalogue(&[]));
    assert_eq!(result.unknown_profiles, vec!["gpt-5-imaginary".to_owned()]);
    assert_eq!(result.pricing().input_cost_per_token, Some(5e-6));
}

#[test]
fn operators_define_profiles_and_may_replace_built_in_ones() {
    let custom = vec![
        Profile { name: "gpt-4o".into(), input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5 },
        Profile { name: "house".into(), input_cost_per_token: 1e-7, output_cost_per_token: 2e-7 },
    ];
    let all = catalogue(&custom);
    assert_eq!(all.iter().filter(|p| p.name == "gpt-4o").count(), 1);
    let inputs = |name| Inputs {
        model: level(Some(name), None),
        provider: none(),
        upstream: None,
        global: none(),
        local: false,
    };
    assert_eq!(effective(&inputs("gpt-4o"), &all).pricing().input_cost_per_token, Some(2.5e-6));
    assert_eq!(effective(&inputs("house"), &all).pricing().output_cost_per_token, Some(2e-7));
}

#[test]
fn negative_or_non_finite_prices_are_not_prices() {
    let inputs = Inputs {
        model: level(None, price(Some(-1.0), Some(f64::NAN))),
        provider: level(None, price(Some(3e-6), Some(4e-6))),
        upstream: None,
        global: none(),
        local: false,
    };
    assert_eq!(effective(&inputs, &catalogue(&[])).pricing(), price(Some(3e-6), Some(4e-6)).unwrap_or_default());
}
