//! Music for callers waiting in a queue (`music=tone`): the PBX answers the caller and plays
//! the bundled melody through the call's relay until the agent answers, then the two talk;
//! the record keeps the PBX's answer as the channel-up time and the agent's as the answer. A
//! caller who hangs up during the music abandoned (CANCELED), though its channel was up.
//! Caller and agent are cti-core softphones whose test devices record what they play.

use centralino_e2e::softphone::{heard, played, registered, share, softphone, SECOND};
use centralino_e2e::Pbx;
use cti_core::media::device::{tone_share, TestDevice};
use cti_core::phone::CallState;
use media_core::music::BUNDLED_NOTES;
use std::sync::Arc;
use std::time::Duration;

/// Share of the 20 ms frames of `samples` whose dominant tone is one of the melody's notes
/// (against the phones' own test tones).
fn melody_share(samples: &[i16]) -> f64 {
    let mut notes = BUNDLED_NOTES.to_vec();
    notes.sort_by(f32::total_cmp);
    notes.dedup();
    notes
        .iter()
        .map(|n| {
            let others: Vec<f32> = notes
                .iter()
                .copied()
                .filter(|o| o != n)
                .chain([1000.0, 2000.0])
                .collect();
            tone_share(samples, *n, &others)
        })
        .sum()
}

fn ms(v: &serde_json::Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_hears_the_queue_music_then_the_agent() {
    let pbx = Pbx::start_with(&[
        &["set-queue", "620", "music=tone", "wrapup_s=0"],
        &["set-queue-member", "620", "202", "0"],
    ]);
    let dev_caller = Arc::new(TestDevice::tone(1000.0));
    let dev_agent = Arc::new(TestDevice::tone(2000.0));
    let (caller, ev_c) = softphone(&pbx, "201", dev_caller.clone(), |_| {}).await;
    let (agent, ev_a) = softphone(&pbx, "202", dev_agent.clone(), |_| {}).await;
    registered(&caller).await;
    registered(&agent).await;
    pbx.wait_for("two locations", Duration::from_secs(10), |p| {
        p.locations().len() == 2
    });

    // The PBX answers at once; the agent's phone rings meanwhile.
    let out = caller.call("620").await.unwrap();
    ev_c.state(out, CallState::Connected).await;
    let inc = ev_a.incoming(&[]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let waiting = heard(
        &dev_caller,
        out,
        played(&dev_caller, out).saturating_sub(2 * SECOND),
    );
    let m = melody_share(&waiting);
    // The melody is 80 % notes, 20 % rest.
    assert!(m > 0.6, "the caller hears the melody while waiting: {m}");
    assert!(share(&waiting, 2000.0) < 0.05, "and not the agent yet");

    agent.answer(inc).await.unwrap();
    ev_a.state(inc, CallState::Connected).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let talking = heard(
        &dev_caller,
        out,
        played(&dev_caller, out).saturating_sub(SECOND),
    );
    assert!(
        share(&talking, 2000.0) > 0.9,
        "then the agent: {} (melody {})",
        share(&talking, 2000.0),
        melody_share(&talking)
    );
    let at_agent = heard(
        &dev_agent,
        inc,
        played(&dev_agent, inc).saturating_sub(SECOND),
    );
    assert!(share(&at_agent, 1000.0) > 0.9, "the agent hears the caller");
    caller.hangup(out).await.unwrap();

    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(
        (&r["status"], &r["answered_by"]),
        (&"OK".into(), &"202".into())
    );
    assert!(
        ms(&r["channel_up_datetime"]) < ms(&r["answer_datetime"]),
        "the PBX answered before the agent: {r:#}"
    );
    let q = &r["details"][0];
    assert_eq!(
        (
            &q["detail_destination_type"],
            &q["detail_answered_by"],
            &q["detail_exit_cause"]
        ),
        (&"queue".into(), &"202".into(), &"NCC".into())
    );

    // A caller who hangs up during the music abandoned the queue.
    let out2 = caller.call("620").await.unwrap();
    ev_c.state(out2, CallState::Connected).await;
    ev_a.incoming(&[inc]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    caller.hangup(out2).await.unwrap();
    let records = pbx.closed_cdrs(2);
    let r = &records[1];
    assert_eq!(
        (
            &r["status"],
            &r["answer_datetime"],
            &r["details"][0]["detail_exit_cause"]
        ),
        (
            &"CANCELED".into(),
            &serde_json::Value::Null,
            &"CANCELED".into()
        ),
        "{r:#}"
    );
    assert!(!r["channel_up_datetime"].is_null());
}
