use crate::test::{SMALL, SMALL_COMPOSE, Test};

#[test]
fn scratch() {
    let t = Test::new().config(SMALL).file("web.yml", SMALL_COMPOSE).applied();
    let r = t.args(["plan", "--refresh=false"]).run();
    println!("---no changes rc={:?}\n{}{}", r.code(), r.stdout(), r.stderr());
    let r = r.then(&["plan", "--refresh=false", "--destroy"]);
    println!("---destroy rc={:?}\n{}{}", r.code(), r.stdout(), r.stderr());
    let r = r.then(&["plan"]);
    println!("---refresh rc={:?}\n{}{}", r.code(), r.stdout(), r.stderr());
    let without = SMALL.replace("[hosts.node3]\naddress = \"192.0.2.13\"\n", "");
    let r = Test::new().config(SMALL).file("web.yml", SMALL_COMPOSE).applied().config(&without).args(["plan", "--refresh=false"]).run();
    println!("---rm node3 rc={:?}\n{}{}", r.code(), r.stdout(), r.stderr());
}
