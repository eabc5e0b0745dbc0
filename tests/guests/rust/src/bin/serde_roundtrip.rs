//! serde derive + serde_json round trip (enum tagging, Option, nested Vec,
//! float formatting via ryu, and error reporting on malformed input).
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Shape {
    Circle { r: f64 },
    Rect { w: f64, h: f64 },
    Polygon { points: Vec<(i32, i32)> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scene {
    name: String,
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    shapes: Vec<Shape>,
    tags: BTreeMap<String, i64>,
    enabled: bool,
}

fn area(s: &Shape) -> f64 {
    match s {
        Shape::Circle { r } => std::f64::consts::PI * r * r,
        Shape::Rect { w, h } => w * h,
        Shape::Polygon { points } => {
            let n = points.len();
            let mut a = 0i64;
            for i in 0..n {
                let (x1, y1) = points[i];
                let (x2, y2) = points[(i + 1) % n];
                a += x1 as i64 * y2 as i64 - x2 as i64 * y1 as i64;
            }
            a.abs() as f64 / 2.0
        }
    }
}

fn main() {
    let mut tags = BTreeMap::new();
    tags.insert("z-order".to_string(), -3);
    tags.insert("layer".to_string(), 7);
    let scene = Scene {
        name: "demo \"scene\" ü".into(),
        id: u64::MAX,
        comment: None,
        shapes: vec![
            Shape::Circle { r: 1.5 },
            Shape::Rect { w: 0.1, h: 3.0 },
            Shape::Polygon {
                points: vec![(0, 0), (4, 0), (4, 3)],
            },
        ],
        tags,
        enabled: true,
    };
    let compact = serde_json::to_string(&scene).unwrap();
    println!("{compact}");
    let pretty = serde_json::to_string_pretty(&scene).unwrap();
    println!("pretty: {} lines", pretty.lines().count());
    let back: Scene = serde_json::from_str(&pretty).unwrap();
    println!("round trip equal: {}", back == scene);
    for s in &back.shapes {
        println!("area {:.6}", area(s));
    }

    let input = r#"{"name":"x","id":5,"comment":"hi","shapes":[{"kind":"circle","r":2e-3}],"tags":{},"enabled":false}"#;
    let parsed: Scene = serde_json::from_str(input).unwrap();
    println!("{parsed:?}");

    let v: serde_json::Value =
        serde_json::from_str(r#"[1, -2.5, 1e300, "s", null, {"a": [true]}]"#).unwrap();
    println!("value: {v}");

    for bad in [
        r#"{"name": 1}"#,
        r#"{"kind":"hexagon"}"#,
        "[1, 2",
        r#"{"name":"x","id":-1}"#,
    ] {
        let e = serde_json::from_str::<Scene>(bad).unwrap_err();
        println!("error: {e}");
    }
    let e = serde_json::from_str::<Shape>(r#"{"kind":"hexagon"}"#).unwrap_err();
    println!("error: {e}");
}
