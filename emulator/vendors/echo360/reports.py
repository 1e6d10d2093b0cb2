"""The thirteen reports of the Echo360 document: catalogue entries, columns (the document's, in its
order) and where their rows come from. The user e-mail column whose name the document's tables lost
is called `email` (see the README's fidelity notes)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import data

USER = ("userid", "firstname", "lastname", "email", "role")
PRESENTATION7 = ("sectionId", "sectionNumber", "courseId", "courseIdentifier", "courseName")
ASSET_COLUMNS = (
    "video_name", "create_date", "section_number", "owner_name", "mediaid", "scheduled", "course_identifier",
    "organization_name", "department_name", "room_name", "building_name", "campus_name", "term_name", "transcribed",
    "device", "video_duration_in_minutes", "last_view", "view_count", "downloads", "view_duration_in_minutes",
    "public", "private", "live", "on_demand", "published_date",
)


@dataclass(frozen=True)
class ReportSpec:
    name: str
    description: str
    note: str
    columns: tuple[str, ...]
    dated: bool = True  # takes the start and end parameters
    events: Callable | None = None  # (world, day) -> [(ts, head, tail)]; None for the asset reports
    spill_days: int = 0  # how many days after its own a day's events may fall

    @property
    def parameters(self) -> list[dict]:
        if not self.dated:
            return []
        return [{"name": "start", "datatype": "date", "required": True},
                {"name": "end", "datatype": "date", "required": True}]


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("asset", "Asset report", "Engagement for all video assets", ASSET_COLUMNS, dated=False),
    ReportSpec("assetbydate", "Asset by date report", "Engagement for all video assets within the identified date range",
               ASSET_COLUMNS),
    ReportSpec("presentation", "Presentation slide views", "Engagement for presentation slide views",
               ("presentationID", "presentationName") + PRESENTATION7 + ("event_timestamp",) + USER + ("slide_count",),
               events=data.presentation_events),
    ReportSpec("videoview", "Video views by user",
               "Non-aggregated video view events with user associations; each event indicates 30 seconds of watched video",
               ("videoId", "videoName") + PRESENTATION7 + ("event_timestamp", "duration_Minute") + USER,
               events=data.videoview_events, spill_days=1),
    ReportSpec("liveviews", "Live views", "Non-aggregated live stream and live classroom view events with user associations",
               ("mediaId", "mediaName", "userId", "firstName", "lastName", "userEmail", "userRole", "scope", "event",
                "eventTimestamp"),
               events=data.liveviews_events, spill_days=1),
    ReportSpec("viewsessions", "Media view sessions",
               "Non-aggregated media view sessions with user associations and player detail",
               ("eventTimestamp", "sessionId", "sessionStatus", "mediaId", "mediaName", "mediaDuration", "lmsCourseName",
                "courseId", "courseCode", "courseName", "sectionId", "sectionNumber", "lessonId", "lessonName", "userId",
                "firstName", "lastName", "userEmail", "userRole", "intervalsPlayed", "playbackSpeed", "playbackVolume",
                "playbackPosition", "transcriptActive", "ccActive"),
               events=data.viewsessions_events, spill_days=3),
    ReportSpec("viewsessiondetails", "Media view session details",
               "Non-aggregated video view events with the session id and the beacon events within each session",
               ("eventTimestamp", "sessionId", "mediaId", "mediaName", "userId", "intervalsPlayed", "playbackSpeed",
                "playbackVolume", "playbackPosition", "transcriptActive", "ccActive"),
               events=data.viewsessiondetails_events, spill_days=1),
    ReportSpec("confused", "Confusion by user",
               "Non-aggregated events indicating that a user marked a presentation slide as confusing",
               ("PresentationID", "PresentationName") + PRESENTATION7 + ("event_timestamp",) + USER,
               events=data.confused_events),
    ReportSpec("polling", "Polling by user - presentations",
               "Student responses given for poll questions located in presentation media (deprecated, see pollingv2)",
               ("presentation_id", "presentation_name", "sectionId", "sectionNumber", "courseId", "courseidentifier",
                "courseName", "activity_id", "activity_prompt", "activity_content", "solution", "event_timestamp",
                "answer_id", "answer", "isCorrect") + USER,
               events=data.polling_events, spill_days=4),
    ReportSpec("pollingv2", "Polling by user - version 2",
               "All student responses to polling questions in both presentation and interactive media",
               ("mediaId", "mediaName", "sectionId", "sectionNumber", "courseId", "lmsCourseId", "courseIdentifier",
                "lmsCourseIdentifier", "courseName", "lmsCourseName", "pollId", "pollPrompt", "pollContent", "solution",
                "action", "eventTimestamp", "answerId", "answer", "userId", "firstName", "lastName", "email", "role"),
               events=data.pollingv2_events, spill_days=4),
    ReportSpec("qanda", "Question and answer",
               "Discussion posts/questions and corresponding responses/answers for course Q&A (deprecated, see qanda2)",
               ("questionid", "question") + PRESENTATION7
               + ("question_userid", "question_firstname", "question_lastname", "question_email", "question_role",
                  "answerid", "answer", "event_timestamp", "answer_userid", "answer_firstname", "answer_lastname",
                  "answer_email", "answer_role"),
               events=data.qanda_events, spill_days=3),
    ReportSpec("qanda2", "Question and answer - version 2",
               "Discussion posts/questions and corresponding responses/answers for course Q&A/Discussions",
               ("entity", "action", "questionid", "question") + PRESENTATION7
               + ("questionUserId", "questionFirstName", "questionLastName", "questionEmail", "questionRole",
                  "answerid", "answer", "eventTimestamp", "answerUserId", "answerFirstName", "answerLastName",
                  "answerEmail", "answerRole"),
               events=data.qanda2_events, spill_days=3),
    ReportSpec("notes", "Notes by user", "Metadata for created or updated notes",
               ("PresentationID", "PresentationName") + PRESENTATION7 + ("content", "note_count", "event_timestamp") + USER,
               events=data.notes_events),
)}
