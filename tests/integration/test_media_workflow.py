"""The README's worked workflow, run for real: a post is written, summarised, drawn as a card
and read aloud, and the card and the speech become an MP4 whose streams ffmpeg reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from actors import media
from tests.support.workflows import node_job, nodes_by_key, ref, submit_workflow, wait_for_workflow

SOURCE = (
    "Conveyor runs long AI jobs in the background. Every job is kept in PostgreSQL, so nothing is lost when a "
    "worker dies. Retries, dead letters and progress come built in. Teams follow their jobs live, by stream, "
    "webhook or e-mail. Operators pause a queue, cap its concurrency and replay its dead letters from one page."
)


def launch_video() -> list[dict[str, Any]]:
    """generate → summarize → render_card + speak → slideshow, as the README shows it."""
    return [
        {"key": "write", "engine": "text_intelligence", "operation": "generate",
         "params": {"kind": "blog_post", "topic": "background jobs that never get lost", "source": SOURCE,
                    "length": "short", "tone": "friendly"}},
        {"key": "summary", "engine": "text_intelligence", "operation": "summarize", "depends_on": ["write"],
         "params": {"text": ref("write.result.text"), "max_sentences": 2}},
        {"key": "card", "engine": "image_generation", "operation": "render_card", "depends_on": ["write", "summary"],
         "params": {"title": ref("write.result.title"), "subtitle": "Conveyor · release notes", "palette": "ocean",
                    "width": 1280, "height": 720}},
        {"key": "voice", "engine": "audio_generation", "operation": "speak", "depends_on": ["summary"],
         "params": {"text": ref("summary.result.summary"), "speed": 170}},
        {"key": "video", "engine": "video_pipeline", "operation": "slideshow", "depends_on": ["card", "voice"],
         "params": {"images": [ref("card.artifacts.card.png")], "audio": ref("voice.artifacts.speech.wav"),
                    "fit_to_audio": True, "fps": 24}},
    ]  # fmt: skip


async def test_a_post_becomes_a_card_a_voice_and_a_video(client: httpx.AsyncClient, tmp_path: Path) -> None:
    # Given the worked workflow of the README
    workflow = await submit_workflow(client, launch_video(), name="launch-video")
    # When it runs
    done = await wait_for_workflow(client, workflow["id"], "succeeded", "failed", timeout=180)
    assert done["status"] == "succeeded", [(n["key"], n["status"], n.get("error")) for n in done["nodes"]]
    assert {n["status"] for n in nodes_by_key(done).values()} == {"succeeded"}
    # Then the post was written by the local composer, and said so
    write = await node_job(client, done, "write")
    assert write["result"]["provider"] == "local" and write["result"]["title"]
    # And the video took the card and the speech by reference
    voice, video = await node_job(client, done, "voice"), await node_job(client, done, "video")
    card = await node_job(client, done, "card")
    assert video["params"]["images"] == [{"$artifact": f"{card['id']}/card.png"}]
    assert video["params"]["audio"] == {"$artifact": f"{voice['id']}/speech.wav"}
    # And the MP4 it serves has an H.264 picture the card's size and AAC sound as long as the speech
    mp4 = await client.get(f"/v1/jobs/{video['id']}/artifacts/slideshow.mp4")
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    path = tmp_path / "slideshow.mp4"
    path.write_bytes(mp4.content)
    info = media.probe(path)
    assert info.video is not None and info.video.codec == "h264"
    assert (info.video.width, info.video.height) == (1280, 720)
    assert info.audio is not None and info.audio.codec == "aac"
    spoken = voice["result"]["duration_seconds"]
    assert info.duration_seconds is not None and abs(info.duration_seconds - spoken) < 0.5
    assert video["result"]["has_audio"] and spoken > 2
