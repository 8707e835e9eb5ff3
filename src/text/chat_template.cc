#include "text/chat_template.h"

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

}  // namespace

Result<ChatTemplateKind> DetectChatTemplate(std::string_view template_text) {
  if (template_text.empty() || template_text == "chatml") return ChatTemplateKind::kChatml;
  if (Contains(template_text, "<|im_start|>")) {
    if (Contains(template_text, "<|im_sep|>")) {
      return Status::Errorf("unsupported chat template (Phi-4 style, <|im_sep|>): '{}'",
                            Excerpt(template_text));
    }
    if (Contains(template_text, "<end_of_utterance>")) {
      return Status::Errorf("unsupported chat template (SmolVLM style, <end_of_utterance>): '{}'",
                            Excerpt(template_text));
    }
    return ChatTemplateKind::kChatml;
  }
  return Status::Errorf("unsupported chat template (only ChatML is supported): '{}'",
                        Excerpt(template_text));
}

Result<std::string> ApplyChatTemplate(std::string_view template_text,
                                      std::span<const ChatMessage> messages,
                                      bool add_generation_prompt) {
  SHRINK_ASSIGN_OR_RETURN(const ChatTemplateKind kind, DetectChatTemplate(template_text));
  std::string prompt;
  switch (kind) {
    case ChatTemplateKind::kChatml:
      for (const ChatMessage& m : messages) {
        prompt += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      }
      if (add_generation_prompt) prompt += "<|im_start|>assistant\n";
      break;
  }
  return prompt;
}

}  // namespace shrink
