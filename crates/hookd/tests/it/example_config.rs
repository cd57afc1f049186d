//! The bundled `hookd.example.toml` (workspace root) starts a working gateway with no
//! edits: it must load without a single problem, warnings included.

const EXAMPLE: &str = include_str!("../../../../hookd.example.toml");

#[test]
fn the_bundled_example_config_loads_without_problems() {
    match hookd::config::load_str(EXAMPLE, Vec::<(String, String)>::new()) {
        Ok((config, problems)) => {
            assert!(
                problems.is_empty(),
                "the example has warnings: {problems:#?}"
            );
            assert!(!config.sources.is_empty(), "the example declares a source");
            assert!(!config.routes.is_empty(), "the example declares a route");
        }
        Err(problems) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!("hookd.example.toml does not load:\n{}", list.join("\n"));
        }
    }
}
