"""Scheduled reports. `tick(runtime, now)` is one pass (tests call it with their own clock):
1. due active schedules get a run for the period that just ended (one per schedule and
   period: UNIQUE, so replicas and repeated ticks cannot double it) and move to the next date;
2. due pending runs are leased, their report generated (once; kept on the run), rendered as
   PDF and mailed over SMTP. A failure is recorded and retried with backoff until
   REPORTING_SCHEDULE_MAX_ATTEMPTS, then the run is `failed` (manual retry re-arms it).
`scheduler_worker` calls tick every REPORTING_SCHEDULER_INTERVAL_SECONDS."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage

from services.reporting import deps, domain, reports, store
from services.reporting.config import ReportingSettings
from summit_common.logs import get_logger
from summit_common.problems import Problem

log = get_logger(component="reporting.scheduler")
LEASE = timedelta(minutes=10)


def _send_mail(cfg: ReportingSettings, recipients: Sequence[str], subject: str, text: str, pdf: bytes,
               filename: str) -> None:
    msg = EmailMessage()
    msg["From"] = cfg.smtp_from
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg.set_content(text)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=30) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password)
        smtp.send_message(msg)


async def send_mail(cfg: ReportingSettings, recipients: Sequence[str], subject: str, text: str, pdf: bytes,
                    filename: str) -> None:
    await asyncio.to_thread(_send_mail, cfg, recipients, subject, text, pdf, filename)


async def tick(runtime, now: datetime) -> dict[str, int]:
    cfg = deps.cfg(runtime.app)
    created = 0
    async with runtime.pool.acquire() as conn, conn.transaction():
        for s in await store.claim_due_schedules(conn, now=now):
            period = domain.period_just_ended(s["frequency"], now)
            await store.add_run(conn, schedule_id=s["schedule_id"], tenant=s["tenant_id"], period=period, at=now)
            await store.advance_schedule(conn, schedule_id=s["schedule_id"], next_run_at=domain.next_run_at(s["frequency"], now))
            created += 1
    async with runtime.pool.acquire() as conn:
        runs = await store.claim_runs(conn, now=now, lease_until=now + LEASE)
    sent = failed = 0
    for run in runs:
        if await _execute(runtime, cfg, run, now):
            sent += 1
        else:
            failed += 1
    return {"runs_created": created, "sent": sent, "failed": failed}


async def _execute(runtime, cfg: ReportingSettings, run, now: datetime) -> bool:
    attempts = run["attempts"] + 1
    report_id = str(run["report_id"]) if run["report_id"] else None
    try:
        async with runtime.unit_of_work(tenant=run["tenant_id"]) as uow:
            if report_id is None:
                report = await reports.generate(
                    uow.conn, generator=deps.generator(runtime.app), tenant=run["tenant_id"], period=run["period"],
                    template=run["template"], seed=None, by="scheduler", now=now, per_hour=None)
                report_id = report["report_id"]
                await store.finish_run(uow.conn, run_id=run["run_id"], status="pending", attempts=run["attempts"],
                                       error=None, next_attempt_at=now + LEASE, report_id=report_id, at=now)
        async with runtime.pool.acquire() as conn:
            row = await store.get_report(conn, report_id)
            export = await reports.export(conn, row, "pdf")
        pdf = await export.render()
        await send_mail(cfg, list(run["recipients"]), f"{run['template'].replace('_', ' ').title()} report {run['period']}",
                        f"Attached: the {run['template']} report for {run['period']} (report {report_id}).", pdf,
                        f"report-{run['period']}.pdf")
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run and retried
        error = f"{exc.title}: {exc.detail}" if isinstance(exc, Problem) else f"{type(exc).__name__}: {str(exc)[:200]}"
        final = attempts >= cfg.schedule_max_attempts
        async with runtime.pool.acquire() as conn:
            await store.finish_run(conn, run_id=run["run_id"], status="failed" if final else "pending", attempts=attempts,
                                   error=error, next_attempt_at=None if final else domain.retry_at(now, attempts, cfg.schedule_backoff_seconds),
                                   report_id=report_id, at=now)
        log.warning("schedule_run_failed", run_id=str(run["run_id"]), attempts=attempts, final=final, error=type(exc).__name__)
        return False
    async with runtime.pool.acquire() as conn:
        await store.finish_run(conn, run_id=run["run_id"], status="sent", attempts=attempts, error=None,
                               next_attempt_at=None, report_id=report_id, at=now)
    log.info("schedule_run_sent", run_id=str(run["run_id"]), report_id=report_id)
    return True


async def scheduler_worker(runtime) -> None:
    while True:
        try:
            await tick(runtime, deps.clock(runtime.app))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the loop must survive; the next tick retries
            log.error("scheduler_tick_failed", error=type(exc).__name__)
        await asyncio.sleep(deps.cfg(runtime.app).scheduler_interval_seconds)
