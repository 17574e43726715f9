"""Structured output into pydantic models, with LangChain and LlamaIndex.

The default method follows the model catalog: json_schema where the model supports it
(GPT, Gemini), function calling otherwise (Claude, DeepSeek).

    python examples/structured_output.py
"""

from __future__ import annotations

from _relay import relay
from pydantic import BaseModel, Field


class Recipe(BaseModel):
    title: str = Field(description="name of the dish")
    servings: int = Field(description="how many people it feeds")
    ingredients: list[str] = Field(description="ingredient names")


PROMPT = "Give me a recipe for a shepherd's pie for 4 people."


def main() -> None:
    from llama_index.core.prompts import PromptTemplate

    from langchain_holysheep import ChatHolySheep
    from llama_index_holysheep import HolySheep

    with relay("structured_output"):
        for model in ("gpt-4.1", "deepseek-v3.2"):  # json_schema, then function calling
            recipe = ChatHolySheep(model=model).with_structured_output(Recipe).invoke(PROMPT)
            assert isinstance(recipe, Recipe)
            print(f"  LangChain {model}: {recipe!r}")
        llm = HolySheep(model="claude-sonnet-4.5")
        recipe = llm.structured_predict(Recipe, PromptTemplate("{request}"), request=PROMPT)
        assert isinstance(recipe, Recipe)
        print(f"  LlamaIndex structured_predict: {recipe!r}")


if __name__ == "__main__":
    main()
