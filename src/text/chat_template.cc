#include "text/chat_template.h"

#include <cctype>
#include <optional>

namespace shrink {
namespace {

bool Contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

// The first characters of a template, on one line, for error messages.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 60;
  std::string out;
  for (char c : text.substr(0, kMax)) out += c == '\n' ? ' ' : c;
  if (text.size() > kMax) out += "...";
  return out;
}

// One row of llama.cpp's detection by content: the template matches when it contains every
// non-empty needle (or, with `prefix`, starts with `all_of[0]`). `kind` empty: a family shrink does
// not render.
struct DetectRule {
  std::string_view family;
  std::string_view all_of[2] = {};
  bool prefix = false;
  std::optional<ChatTemplateKind> kind = std::nullopt;

  bool Matches(std::string_view text) const {
    if (prefix) return text.substr(0, all_of[0].size()) == all_of[0];
    for (std::string_view needle : all_of) {
      if (!needle.empty() && !Contains(text, needle)) return false;
    }
    return true;
  }
};

// In llama.cpp's order (llm_chat_detect_template), up to and including Gemma; the first match wins.
const DetectRule kRules[] = {
    {.family = "Phi-4 (<|im_start|> with <|im_sep|>)", .all_of = {"<|im_start|>", "<|im_sep|>"}},
    {.family = "SmolVLM (<|im_start|> with <end_of_utterance>)",
     .all_of = {"<|im_start|>", "<end_of_utterance>"}},
    {.family = "ChatML", .all_of = {"<|im_start|>"}, .kind = ChatTemplateKind::kChatml},
    {.family = "Mistral (starts with 'mistral')", .all_of = {"mistral"}, .prefix = true},
    {.family = "Mistral/Llama-2 ([INST])", .all_of = {"[INST]"}},
    {.family = "Phi-3 (<|assistant|>, <|end|>)", .all_of = {"<|assistant|>", "<|end|>"}},
    {.family = "ChatGLM-4 ([gMASK]<sop>)", .all_of = {"[gMASK]<sop>"}},
    {.family = "GLM-Edge/Falcon-3/EXAONE (<|assistant|>, <|user|>)",
     .all_of = {"<|assistant|>", "<|user|>"}},
    {.family = "GLM-Edge (<|{{ item['role'] }}|>, <|begin_of_image|>)",
     .all_of = {"<|{{ item['role'] }}|>", "<|begin_of_image|>"}},
    {.family = "Zephyr (<|user|>, <|endoftext|>)", .all_of = {"<|user|>", "<|endoftext|>"}},
    {.family = "Monarch (bos_token + message['role'])", .all_of = {"bos_token + message['role']"}},
    {.family = "Gemma", .all_of = {"<start_of_turn>"}, .kind = ChatTemplateKind::kGemma},
};

// llama.cpp's trim: ASCII whitespace (isspace) off both ends.
std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string RenderChatml(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string prompt;
  for (const ChatMessage& m : messages) {
    prompt += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) prompt += "<|im_start|>assistant\n";
  return prompt;
}

std::string RenderGemma(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string prompt;
  std::string system;  // system text waiting for the next non-model turn
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      system += Trim(m.content);
      continue;
    }
    const std::string role = m.role == "assistant" ? "model" : m.role;
    prompt += "<start_of_turn>" + role + "\n";
    if (!system.empty() && role != "model") {
      prompt += system + "\n\n";
      system.clear();
    }
    prompt += Trim(m.content);
    prompt += "<end_of_turn>\n";
  }
  if (add_generation_prompt) prompt += "<start_of_turn>model\n";
  return prompt;
}

}  // namespace

Result<ChatTemplateKind> DetectChatTemplate(std::string_view template_text) {
  if (template_text.empty() || template_text == "chatml") return ChatTemplateKind::kChatml;
  if (template_text == "gemma") return ChatTemplateKind::kGemma;
  for (const DetectRule& rule : kRules) {
    if (!rule.Matches(template_text)) continue;
    if (rule.kind) return *rule.kind;
    return Status::Errorf(
        "unsupported chat template (llama.cpp detects {}; shrink renders ChatML and Gemma): '{}'",
        rule.family, Excerpt(template_text));
  }
  return Status::Errorf("unsupported chat template (shrink renders ChatML and Gemma): '{}'",
                        Excerpt(template_text));
}

Result<std::string> ApplyChatTemplate(std::string_view template_text,
                                      std::span<const ChatMessage> messages,
                                      bool add_generation_prompt) {
  SHRINK_ASSIGN_OR_RETURN(const ChatTemplateKind kind, DetectChatTemplate(template_text));
  switch (kind) {
    case ChatTemplateKind::kChatml:
      return RenderChatml(messages, add_generation_prompt);
    case ChatTemplateKind::kGemma:
      return RenderGemma(messages, add_generation_prompt);
  }
  return Status::Error("unreachable chat template kind");
}

}  // namespace shrink
