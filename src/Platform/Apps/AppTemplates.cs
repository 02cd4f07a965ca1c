namespace Inference.Platform.Apps;

/// <summary>The builder's ready templates, each usable as is (on the bundled model too).</summary>
public static class AppTemplates
{
    public static IReadOnlyList<AppSpec> All { get; } =
    [
        new("tutor", "Homework tutor", "Ask about a problem; the tutor gives a hint, never the answer.",
            "You are a patient tutor for {{level}} students. Never give the final answer. Give one short hint that helps the student take the next step.",
            "Subject: {{subject}}\nMy problem: {{question}}",
            "", 0.7, 0.9, 96,
            [
                new("subject", "Subject", AppFieldKind.Text),
                new("level", "Level", AppFieldKind.Choice, ["elementary school", "middle school", "high school"]),
                new("question", "Your problem", AppFieldKind.LongText),
            ],
            [new("Subject: math\nMy problem: What is 12 times 11?", "Think of 12 times 10 first, then add one more 12.")]),
        new("faq", "FAQ assistant", "Answers customers' questions from the text you paste.",
            "You answer questions about our shop using only this text. If the text does not say, say you do not know.\n\n{{faq_text}}",
            "{{question}}",
            "", 0.3, 0.9, 96,
            [
                new("faq_text", "FAQ text", AppFieldKind.LongText),
                new("question", "Question", AppFieldKind.Text),
            ],
            []),
        new("summarizer", "Summarizer", "Summarizes a text in the length you choose.",
            "You summarize texts faithfully. Answer in {{length}}.",
            "Summarize this text:\n\n{{text}}",
            "", 0.3, 0.9, 128,
            [
                new("text", "Text", AppFieldKind.LongText),
                new("length", "Length", AppFieldKind.Choice, ["one sentence", "three sentences", "a short paragraph"]),
            ],
            []),
        new("task_analysis", "Task analysis for team leaders", "Breaks a team task into steps, owners and risks.",
            "You help team leaders plan. Answer with the steps of the task, who could own each, and the main risk.",
            "Team: {{team}}\nTask: {{task}}\nDeadline: {{deadline}}",
            "", 0.5, 0.9, 160,
            [
                new("team", "Team (who is on it)", AppFieldKind.Text),
                new("task", "Task", AppFieldKind.LongText),
                new("deadline", "Deadline", AppFieldKind.Text, Required: false),
            ],
            []),
        new("blank", "Blank app", "Start from an empty prompt.",
            "You are a helpful assistant.",
            "{{message}}",
            "", 0.7, 0.9, 128,
            [new("message", "Message", AppFieldKind.LongText)],
            []),
    ];

    /// <summary>The template with this id, or null.</summary>
    public static AppSpec? Find(string? id) => All.FirstOrDefault(t => string.Equals(t.Template, id, StringComparison.Ordinal));
}
